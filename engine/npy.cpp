#include "engine/npy.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "engine/checked.h"
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

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
// Parsed by hand, one pass, no regex and no recursion: the text comes from an untrusted file.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  void parse(std::string& descr, bool& fortran, Shape& shape) {
    bool has_descr = false, has_order = false, has_shape = false;
    skip_space();
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      std::string key = quoted();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        descr = quoted();
        has_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        has_order = true;
      } else if (key == "shape") {
        shape = tuple();
        has_shape = true;
      } else {
        bad(fmt::format("unknown key '{}'", key.substr(0, 40)));
      }
      skip_space();
      if (peek() == ',') ++i_;
      else if (peek() != '}') bad("expected ',' or '}'");
    }
    SL_CHECK(has_descr, "{}: .npy header has no descr", path_);
    SL_CHECK(has_order, "{}: .npy header has no fortran_order", path_);
    SL_CHECK(has_shape, "{}: .npy header has no shape", path_);
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail("{}: invalid .npy header at character {}: {}", path_, i_, what);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) bad(fmt::format("expected '{}'", c));
    ++i_;
  }
  std::string quoted() {
    char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.compare(i_, 4, "True") == 0) return i_ += 4, true;
    if (s_.compare(i_, 5, "False") == 0) return i_ += 5, false;
    bad("expected True or False");
  }
  Shape tuple() {
    Shape shape;
    expect('(');
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      if (peek() == '-') bad("negative dimension in the shape");
      size_t start = i_;
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(v, int64_t{10}, &v) || __builtin_add_overflow(v, int64_t{peek() - '0'}, &v))
          bad("dimension too large");
        ++i_;
      }
      if (i_ == start) bad("expected a dimension (a non-negative integer)");
      while (peek() == 'L') ++i_;  // Python 2 writes long integers as 3L
      shape.push_back(v);
      if (shape.size() > 64) bad("more than 64 dimensions");
      skip_space();
      if (peek() == ',') ++i_;
      else if (peek() != ')') bad("expected ',' or ')' in the shape");
    }
    ++i_;
    return shape;
  }

  const std::string& s_;
  const std::string& path_;
  size_t i_ = 0;
};

}  // namespace

Tensor parse_npy(const char* data, size_t size, const std::string& path) {
  SL_CHECK(size >= 10 && std::memcmp(data, "\x93NUMPY", 6) == 0, "{}: not a .npy file (missing the \\x93NUMPY magic)",
           path);
  int major = static_cast<unsigned char>(data[6]);
  SL_CHECK(major >= 1 && major <= 3, "{}: unsupported .npy version {}", path, major);
  size_t header_len, pos;
  if (major == 1) {
    header_len = static_cast<unsigned char>(data[8]) | (static_cast<size_t>(static_cast<unsigned char>(data[9])) << 8);
    pos = 10;
  } else {
    SL_CHECK(size >= 12, "{}: truncated .npy header", path);
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(data[8 + i])) << (8 * i);
    pos = 12;
  }
  SL_CHECK(header_len <= size - pos, "{}: .npy header length {} runs past the end of the file", path, header_len);
  std::string header(data + pos, header_len);
  std::string descr;
  bool fortran = false;
  Shape shape;
  HeaderParser(header, path).parse(descr, fortran, shape);
  NpyType type = type_from_descr(descr, path);
  SL_CHECK(!fortran, "{}: Fortran-ordered .npy arrays are not supported (save with C order)", path);
  size_t data_pos = pos + header_len;
  int64_t numel = 0;
  bool overflow = false;
  try {
    numel = shape_numel(shape);
  } catch (const Error&) {
    overflow = true;
  }
  // The size check comes before any allocation, so a hostile shape allocates nothing.
  auto want = overflow ? std::nullopt : mul_nonneg(numel, type.bytes);
  SL_CHECK(want && static_cast<uint64_t>(*want) == size - data_pos,
           "{}: .npy data has {} bytes, shape {} of {} needs {}", path, size - data_pos, shape_str(shape), descr,
           want ? std::to_string(*want) : std::string("more than 2^63"));
  Tensor t = Tensor::empty(shape, type.dtype);
  if (numel > 0) decode(data + data_pos, type, numel, t);
  return t;
}

Tensor load_npy(const std::string& path) {
  std::vector<char> bytes = read_file(path);
  return parse_npy(bytes.data(), bytes.size(), path);
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
