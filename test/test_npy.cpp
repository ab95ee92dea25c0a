// .npy round trips, golden files written by numpy, and corrupt files.
#include <cstdio>
#include <fstream>

#include "engine/file_io.h"
#include "engine/npy.h"
#include "helpers.h"

using namespace sl;
using sl::test::error_of;

TEST_CASE("npy: save then load keeps dtype, shape and values", "[npy]") {
  std::string path = "test_npy_roundtrip.npy";
  for (const Tensor& t : {from_vector<float>({1, -2, 3.5f, 4, 5, 6}, {2, 3}), from_vector<double>({1e-300, 2}),
                          from_vector<int32_t>({-7}, {1, 1, 1}), scalar_tensor(2.5, DType::f64),
                          from_vector<uint8_t>({0, 255, 7}), from_vector<int8_t>({-128, 127})}) {
    save_npy(path, t);
    Tensor r = load_npy(path);
    CHECK(r.shape() == t.shape());
    CHECK(r.dtype() == t.dtype());
    CHECK(r.to_vector<double>() == t.to_vector<double>());
  }
  std::vector<char> bytes = read_file(path);
  CHECK((10 + (static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8))) % 64 == 0);
  std::remove(path.c_str());
}

TEST_CASE("npy: reads files written by numpy", "[npy]") {
  Tensor w = load_npy(std::string(SHIFTLAB_TEST_DATA) + "/golden/deepshift/q_w.npy");
  CHECK(w.dtype() == DType::f32);
  CHECK(w.numel() > 0);
}

TEST_CASE("npy: corrupt files give one clear error naming the file", "[npy][errors]") {
  std::string path = "test_npy_bad.npy";
  auto write = [&](const std::string& bytes) { write_file_atomic(path, bytes); };
  write("hello");
  CHECK(error_of([&] { load_npy(path); }).find("not a .npy file") != std::string::npos);
  save_npy(path, from_vector<float>({1, 2, 3}));
  std::vector<char> good = read_file(path);
  write(std::string(good.begin(), good.end() - 4));  // truncated data
  std::string m = error_of([&] { load_npy(path); });
  CHECK(m.find(path) != std::string::npos);
  CHECK(m.find("needs 12") != std::string::npos);
  std::string bad(good.begin(), good.end());
  bad[8] = static_cast<char>(0xff);  // header length beyond the file
  write(bad);
  CHECK(error_of([&] { load_npy(path); }).find("runs past the end") != std::string::npos);
  CHECK(error_of([] { load_npy("/nonexistent/x.npy"); }).find("cannot open '/nonexistent/x.npy'") != std::string::npos);
  std::remove(path.c_str());
}

TEST_CASE("npy: narrow numpy types are widened on load", "[npy]") {
  std::string g = std::string(SHIFTLAB_TEST_DATA) + "/golden/apot_s3/";
  Tensor code = load_npy(g + "apot_in_w3_a1.5_code.npy");  // int16
  CHECK(code.dtype() == DType::i32);
  Tensor half = load_npy(g + "ds_fp16_x.npy");  // float16
  CHECK(half.dtype() == DType::f32);
  CHECK(half.numel() == 64);
  CHECK(half.to_vector<float>()[0] == -0.38256836f);  // numpy: float16 -> float32
  CHECK(half.to_vector<float>()[7] == 0.18518066f);
  Tensor bits = load_npy(g + "ds_fp32_addbits.npy");  // uint32
  CHECK(bits.dtype() == DType::i64);
  Tensor valid = load_npy(g + "ds_fp32_valid.npy");  // bool
  CHECK(valid.dtype() == DType::u8);
}
