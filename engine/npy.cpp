#include "engine/npy.h"

#include <cstring>
#include <regex>
#include <vector>

#include "engine/file_io.h"

namespace sl {

namespace {

DType dtype_from_descr(const std::string& d, const std::string& path) {
  if (d == "<f4") return DType::f32;
  if (d == "<f8") return DType::f64;
  if (d == "<i4") return DType::i32;
  if (d == "<i8") return DType::i64;
  if (d == "|i1") return DType::i8;
  if (d == "|u1" || d == "|b1") return DType::u8;
  fail("{}: unsupported .npy dtype '{}' (supported: <f4 <f8 <i4 <i8 |i1 |u1 |b1)", path, d);
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
  DType dtype = dtype_from_descr(m[1], path);
  SL_CHECK(std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*(True|False)")),
           "{}: .npy header has no fortran_order", path);
  SL_CHECK(m[1] == "False", "{}: Fortran-ordered .npy arrays are not supported (save with C order)", path);
  SL_CHECK(std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")), "{}: .npy header has no shape", path);
  Shape shape;
  std::string dims = m[1];
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it)
    shape.push_back(std::stoll(it->str()));
  Tensor t = Tensor::empty(shape, dtype);
  size_t data_pos = pos + header_len;
  SL_CHECK(bytes.size() - data_pos == t.nbytes(), "{}: .npy data has {} bytes, shape {} of {} needs {}", path,
           bytes.size() - data_pos, shape_str(shape), dtype, t.nbytes());
  if (t.nbytes() > 0) std::memcpy(t.raw_data(), bytes.data() + data_pos, t.nbytes());
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
