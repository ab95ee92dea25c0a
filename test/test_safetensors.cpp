// safetensors: round trip, metadata, and one clear error per kind of corrupt file.
#include <cstdio>

#include "engine/file_io.h"
#include "engine/safetensors.h"
#include "helpers.h"

using namespace sl;
using sl::test::error_of;

namespace {
std::string header_file(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  return out + json + data;
}
}  // namespace

TEST_CASE("safetensors: tensors and metadata round-trip", "[safetensors]") {
  std::string path = "test_st_roundtrip.safetensors";
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<int64_t>({42}, {1});
  Tensor scalar = Tensor::empty({}, DType::i64);
  scalar.data<int64_t>()[0] = 7;
  Tensor empty = zeros({0, 4});
  save_safetensors(path, {{"layer1.0.conv1.weight", a}, {"bn1.num_batches_tracked", scalar}, {"b", b}, {"e", empty}},
                   {{"config", "{\"arch\": \"resnet20\"}"}});
  SafetensorsContent c = load_safetensors(path);
  REQUIRE(c.tensors.size() == 4);
  CHECK(sl::test::tensor_of(c, "layer1.0.conv1.weight").to_vector<float>() == a.to_vector<float>());
  CHECK(sl::test::tensor_of(c, "bn1.num_batches_tracked").shape().empty());
  CHECK(sl::test::tensor_of(c, "bn1.num_batches_tracked").item() == 7);
  CHECK(sl::test::tensor_of(c, "e").shape() == Shape{0, 4});
  CHECK(c.metadata.at("config") == "{\"arch\": \"resnet20\"}");
  std::vector<char> bytes = read_file(path);
  uint64_t n = static_cast<unsigned char>(bytes[0]) | (static_cast<uint64_t>(static_cast<unsigned char>(bytes[1])) << 8);
  CHECK(n % 8 == 0);  // data 8-byte aligned
  CHECK(bytes[8] == '{');
  std::remove(path.c_str());
}

TEST_CASE("safetensors: corrupt files give one clear error naming the file", "[safetensors][errors]") {
  std::string path = "test_st_bad.safetensors";
  auto load_error = [&](const std::string& bytes) {
    write_file_atomic(path, bytes);
    std::string m = error_of([&] { load_safetensors(path); });
    CHECK(m.find(path) != std::string::npos);
    return m;
  };
  std::string ok_json = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string data(8, '\0');
  CHECK(load_error("abc").find("shorter than the 8-byte header") != std::string::npos);
  CHECK(load_error(header_file(ok_json, data).substr(0, 20)).find("larger than the file") != std::string::npos);
  CHECK(load_error(header_file(ok_json, data.substr(0, 4))).find("truncated") != std::string::npos);
  CHECK(load_error(header_file(R"({"w":{"dtype":"F32",)", data)).find("not valid JSON") != std::string::npos);
  CHECK(load_error(header_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data))
            .find("appears twice") != std::string::npos);
  CHECK(load_error(header_file(R"({"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", data)).find("C64") != std::string::npos);
  CHECK(load_error(header_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data)).find("needs 12 bytes") !=
        std::string::npos);
  CHECK(load_error(header_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", data))
            .find("overlap or hole") != std::string::npos);
  std::string huge(8, '\xff');
  CHECK(load_error(huge).find("100 MB") != std::string::npos);
  CHECK(load_error(header_file(R"({"w":{"dtype":"F32","shape":[2]}})", data)).find("data_offsets") != std::string::npos);
  CHECK(error_of([] { load_safetensors("/nonexistent/dir/x.safetensors"); }).find("cannot open") != std::string::npos);
  std::remove(path.c_str());
}

TEST_CASE("safetensors: a failed write leaves the existing file intact", "[safetensors]") {
  std::string path = "test_st_keep.safetensors";
  save_safetensors(path, {{"w", ones({3})}});
  std::string m = error_of([&] { save_safetensors(path, {{"w", ones({3})}, {"w", ones({2})}}); });
  CHECK(m.find("appears twice") != std::string::npos);
  CHECK(sl::test::tensor_of(load_safetensors(path), "w").to_vector<float>() == std::vector<float>{1, 1, 1});
  std::remove(path.c_str());
}
