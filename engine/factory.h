// Tensor factories. Random ones draw from a Generator (default_generator() when none is given).
#pragma once
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace sl {

Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu);
// A 0-dimensional tensor holding one value.
Tensor scalar_tensor(double value, DType dtype = DType::f32, Device device = Device::cpu);
// [start, start+step, ...) below end (as numpy.arange).
Tensor arange(double start, double end, double step = 1, DType dtype = DType::f32, Device device = Device::cpu);
// Uniform in [lo, hi) and normal(mean, std); floating dtypes only.
Tensor rand(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu, double lo = 0,
            double hi = 1, Generator* gen = nullptr);
Tensor randn(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu, double mean = 0,
             double stddev = 1, Generator* gen = nullptr);

// Copies host values into a new tensor; numel(shape) must equal values.size(). An empty shape
// means a 1-D tensor of values.size() elements.
template <class T>
Tensor from_vector(const std::vector<T>& values, Shape shape = {}, Device device = Device::cpu);

Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);

extern template Tensor from_vector<float>(const std::vector<float>&, Shape, Device);
extern template Tensor from_vector<double>(const std::vector<double>&, Shape, Device);
extern template Tensor from_vector<int32_t>(const std::vector<int32_t>&, Shape, Device);
extern template Tensor from_vector<int64_t>(const std::vector<int64_t>&, Shape, Device);
extern template Tensor from_vector<int8_t>(const std::vector<int8_t>&, Shape, Device);
extern template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, Shape, Device);

}  // namespace sl
