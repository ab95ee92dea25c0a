#include "engine/npy.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <regex>
#include <vector>

#include "engine/file_io.h"

namespace sl {

namespace {

// A stored element type and the tensor dtype it is read as. Types shiftlab has no dtype for are
// widened on load (i2/u2 -> i32, u4 -> i64, f2 -> f32), so golden files of any numpy type load.
struct NpyType {
  DType dtype;
  char kind;  // 'f', 'i', 'u', 'b'
  int bytes;
};

NpyType type_from_descr(const std::string& d, const std::string& path) {
  static const std::pair<const char*, NpyType> kTypes[] = {
      {"<f4", {DType::f32, 'f', 4}}, {"<f8", {DType::f64, 'f', 8}}, {"<f2", {DType::f32, 'f', 2}},
      {"<i4", {DType::i32, 'i', 4}}, {"<i8", {DType::i64, 'i', 8}}, {"<i2", {DType::i32, 'i', 2}},
      {"|i1", {DType::i8, 'i', 1}},  {"|u1", {DType::u8, 'u', 1}},  {"|b1", {DType::u8, 'b', 1}},
      {"<u2", {DType::i32, 'u', 2}}, {"<u4", {DType::i64, 'u', 4}},
  };
  for (const auto& kv : kTypes)
    if (d == kv.first) return kv.second;
  fail("{}: unsupported .npy dtype '{}' (supported: <f2 <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 |b1)", path, d);
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  float mag;
  if (exp == 0) mag = std::ldexp(static_cast<float>(man), -24);                       // zero / subnormal
  else if (exp == 31) mag = man ? std::numeric_limits<float>::quiet_NaN() : INFINITY;  // inf / nan
  else mag = std::ldexp(static_cast<float>(man | 0x400u), static_cast<int>(exp) - 25);
  return sign ? -mag : mag;
}

// Copies n stored elements into the tensor, widening where the stored type is narrower.
void decode(const char* src, const NpyType& type, int64_t n, Tensor& t) {
  if (static_cast<size_t>(type.bytes) == dtype_size(t.dtype())) {
    std::memcpy(t.raw_data(), src, static_cast<size_t>(n) * static_cast<size_t>(type.bytes));
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const char* p = src + i * type.bytes;
    uint32_t bits = 0;
    std::memcpy(&bits, p, static_cast<size_t>(type.bytes));
    if (type.kind == 'f') {
      t.data<float>()[i] = half_to_float(static_cast<uint16_t>(bits));
    } else if (type.bytes == 2) {
      t.data<int32_t>()[i] = type.kind == 'i' ? static_cast<int16_t>(bits) : static_cast<int32_t>(bits);
    } else {
      t.data<int64_t>()[i] = static_cast<int64_t>(bits);  // u4
    }
  }
}

const char* descr_of(DType d) {
  switch (d) {
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::i8: return "|i1";
    case DType::u8: return "|u1";
    default: fail("save_npy: invalid dtype");
  }
}

}  // namespace

Tensor load_npy(const std::string& path) {
  std::vector<char> bytes = read_file(path);
  SL_CHECK(bytes.size() >= 10 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0,
           "{}: not a .npy file (missing the \\x93NUMPY magic)", path);
  int major = static_cast<unsigned char>(bytes[6]);
  SL_CHECK(major >= 1 && major <= 3, "{}: unsupported .npy version {}", path, major);
  size_t header_len, pos;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    pos = 10;
  } else {
    SL_CHECK(bytes.size() >= 12, "{}: truncated .npy header", path);
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    pos = 12;
  }
  SL_CHECK(pos + header_len <= bytes.size(), "{}: .npy header length {} runs past the end of the file", path, header_len);
  std::string header(bytes.data() + pos, header_len);
  std::smatch m;
  SL_CHECK(std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']+)'")), "{}: .npy header has no descr", path);
  const std::string descr = m[1];
  NpyType type = type_from_descr(descr, path);
  SL_CHECK(std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*(True|False)")),
           "{}: .npy header has no fortran_order", path);
  SL_CHECK(m[1] == "False", "{}: Fortran-ordered .npy arrays are not supported (save with C order)", path);
  SL_CHECK(std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")), "{}: .npy header has no shape", path);
  Shape shape;
  std::string dims = m[1];
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it)
    shape.push_back(std::stoll(it->str()));
  Tensor t = Tensor::empty(shape, type.dtype);
  size_t data_pos = pos + header_len;
  size_t want = static_cast<size_t>(t.numel()) * static_cast<size_t>(type.bytes);
  SL_CHECK(bytes.size() - data_pos == want, "{}: .npy data has {} bytes, shape {} of {} needs {}", path,
           bytes.size() - data_pos, shape_str(shape), descr, want);
  decode(bytes.data() + data_pos, type, t.numel(), t);
  return t;
}

void save_npy(const std::string& path, const Tensor& t) {
  Tensor host = t.detach().to(Device::cpu);
  std::string dims;  // numpy writes "()", "(5,)" and "(2, 3)"
  for (size_t i = 0; i < host.shape().size(); ++i) dims += (i ? ", " : "") + std::to_string(host.shape()[i]);
  if (host.dim() == 1) dims += ",";
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr_of(host.dtype()), dims);
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(1);
  out.push_back(0);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(static_cast<const char*>(host.raw_data()), host.nbytes());
  write_file_atomic(path, out);
}

}  // namespace sl
