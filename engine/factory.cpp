#include "engine/factory.h"

#include <cmath>

#include "backends/backend.h"
#include "backends/transfer.h"

namespace sl {

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  if (t.numel() > 0) backend(device).fill(dtype, t.raw_data(), t.numel(), value);
  return t;
}

Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  SL_CHECK(step != 0, "arange: step must be nonzero");
  double count = std::ceil((end - start) / step);
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + static_cast<double>(i) * step;
  Tensor host = from_vector(v);
  Tensor out = Tensor::empty({n}, dtype, Device::cpu);
  if (n > 0) backend(Device::cpu).cast(DType::f64, host.raw_data(), dtype, out.raw_data(), n);
  return out.to(device);
}

Tensor rand(const Shape& shape, DType dtype, Device device, double lo, double hi, Generator* gen) {
  SL_CHECK(is_floating(dtype), "rand: dtype must be f32 or f64, got {}", dtype);
  Generator& g = gen ? *gen : default_generator();
  Tensor t = Tensor::empty(shape, dtype, device);
  uint64_t offset = g.reserve(t.numel());
  if (t.numel() > 0) backend(device).fill_uniform(dtype, t.raw_data(), t.numel(), g.seed(), offset, lo, hi);
  return t;
}

Tensor randn(const Shape& shape, DType dtype, Device device, double mean, double stddev, Generator* gen) {
  SL_CHECK(is_floating(dtype), "randn: dtype must be f32 or f64, got {}", dtype);
  Generator& g = gen ? *gen : default_generator();
  Tensor t = Tensor::empty(shape, dtype, device);
  uint64_t offset = g.reserve(t.numel());
  if (t.numel() > 0)
    backend(device).fill_normal(dtype, t.raw_data(), t.numel(), g.seed(), offset, mean, stddev);
  return t;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, Shape shape, Device device) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  SL_CHECK(shape_numel(shape) == static_cast<int64_t>(values.size()),
           "from_vector: {} values do not fill shape {}", values.size(), shape_str(shape));
  Tensor t = Tensor::empty(shape, DTypeOf<T>::value, device);
  if (!values.empty()) copy_bytes(device, t.raw_data(), Device::cpu, values.data(), t.nbytes());
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, Shape, Device);
template Tensor from_vector<double>(const std::vector<double>&, Shape, Device);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, Shape, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, Shape, Device);
template Tensor from_vector<int8_t>(const std::vector<int8_t>&, Shape, Device);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, Shape, Device);

Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.dtype(), t.device()); }

}  // namespace sl
