#include "engine/tensor.h"

#include <fmt/format.h>

#include <sstream>

#include "backends/backend.h"
#include "backends/transfer.h"

namespace sl {

namespace {
// Reads element i of a host buffer of dtype `dt` as T.
template <class T>
T load_as(const void* p, DType dt, int64_t i) {
  switch (dt) {
    case DType::f32: return static_cast<T>(static_cast<const float*>(p)[i]);
    case DType::f64: return static_cast<T>(static_cast<const double*>(p)[i]);
    case DType::i32: return static_cast<T>(static_cast<const int32_t*>(p)[i]);
    case DType::i64: return static_cast<T>(static_cast<const int64_t*>(p)[i]);
    case DType::i8: return static_cast<T>(static_cast<const int8_t*>(p)[i]);
    case DType::u8: return static_cast<T>(static_cast<const uint8_t*>(p)[i]);
    default: break;
  }
  fail("invalid dtype value {}", static_cast<int>(dt));
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  int64_t numel = shape_numel(shape);
  size_t nbytes = 0;
  SL_CHECK(!__builtin_mul_overflow(static_cast<size_t>(numel), dtype_size(dtype), &nbytes),
           "a tensor of shape {} and dtype {} is too large", shape_str(shape), dtype_name(dtype));
  impl->storage = std::make_shared<Storage>(nbytes, device);
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }

void* Tensor::raw_data() {
  const TensorImpl& t = checked();
  return static_cast<char*>(t.storage->data()) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

const void* Tensor::raw_data() const {
  const TensorImpl& t = checked();
  return static_cast<const char*>(t.storage->data()) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

void Tensor::check_access(DType want) const {
  SL_CHECK(dtype() == want, "data<{}>() called on a tensor of dtype {}", dtype_name(want), dtype());
  SL_CHECK(device() == Device::cpu, "data<{}>() needs a cpu tensor, this one is on {}", dtype_name(want),
           device());
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  int64_t n = numel();
  std::vector<char> host(nbytes());
  if (n > 0) copy_bytes(Device::cpu, host.data(), device(), raw_data(), nbytes());
  std::vector<T> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = load_as<T>(host.data(), dtype(), i);
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int8_t> Tensor::to_vector<int8_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

double Tensor::item() const {
  SL_CHECK(numel() == 1, "item() needs a tensor with one element, got shape {}", shape_str(shape()));
  return to_vector<double>()[0];
}

void copy_data(const Tensor& dst, const Tensor& src) {
  SL_CHECK(dst.shape() == src.shape() && dst.dtype() == src.dtype(), "copy_data: source {} {} does not match destination {} {}",
           shape_str(src.shape()), src.dtype(), shape_str(dst.shape()), dst.dtype());
  if (dst.numel() == 0) return;
  Tensor d = dst;  // a handle, to reach the non-const data pointer
  copy_bytes(dst.device(), d.raw_data(), src.device(), src.raw_data(), dst.nbytes());
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  SL_CHECK(a.device() == b.device(), "{}: tensors are on different devices ({} and {})", op, a.device(),
           b.device());
}

void check_floating(const char* op, const Tensor& t) {
  SL_CHECK(is_floating(t.dtype()), "{}: expected a floating-point tensor (f32 or f64), got {}", op, t.dtype());
}

namespace {
void print_rec(std::ostringstream& os, const std::vector<double>& v, const Shape& shape, size_t dim,
               int64_t offset, int64_t edge, bool integral) {
  if (shape.empty()) {
    os << (integral ? fmt::format("{}", static_cast<int64_t>(v[0])) : fmt::format("{:.6g}", v[0]));
    return;
  }
  int64_t inner = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  os << '[';
  int64_t n = shape[dim];
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * edge && i == edge) {
      os << "..., ";
      i = n - edge;
    }
    if (dim + 1 == shape.size()) {
      double x = v[static_cast<size_t>(offset + i)];
      os << (integral ? fmt::format("{}", static_cast<int64_t>(x)) : fmt::format("{:.6g}", x));
    } else {
      print_rec(os, v, shape, dim + 1, offset + i * inner, edge, integral);
    }
    if (i + 1 < n) os << ", ";
  }
  os << ']';
}
}  // namespace

std::string to_string(const Tensor& t, int64_t edge) {
  if (!t.defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  print_rec(os, t.to_vector<double>(), t.shape(), 0, 0, edge, !is_floating(t.dtype()));
  os << ", " << dtype_name(t.dtype()) << ", " << device_name(t.device()) << ", shape " << shape_str(t.shape());
  if (t.requires_grad()) os << ", requires_grad";
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

}  // namespace sl
