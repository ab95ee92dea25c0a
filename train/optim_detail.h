// Shared by the optimizer files (not public): host access to a parameter and its gradient, and the
// dtype dispatch of the update loops.
#pragma once
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/backend.h"
#include "engine/tensor.h"

namespace sl::detail {

// Runs fn(T* p, const T* g, int64_t n) with T = float or double (the parameter's dtype), directly on
// the parameter's storage when it is on the CPU, else on a host copy that is written back after.
template <class Fn>
void with_host_data(const Tensor& param, const Tensor& grad, Fn&& fn) {
  SL_CHECK(grad.shape() == param.shape(), "optimizer: gradient shape {} differs from parameter shape {}",
           shape_str(grad.shape()), shape_str(param.shape()));
  SL_CHECK(grad.dtype() == param.dtype(), "optimizer: gradient dtype {} differs from parameter dtype {}", grad.dtype(),
           param.dtype());
  Tensor p = param.detach();
  bool staged = p.device() != Device::cpu;
  Tensor host = staged ? p.to(Device::cpu) : p;
  Tensor g = grad.device() == Device::cpu ? grad.detach() : grad.detach().to(Device::cpu);
  if (p.dtype() == DType::f32)
    fn(host.data<float>(), g.data<float>(), p.numel());
  else if (p.dtype() == DType::f64)
    fn(host.data<double>(), g.data<double>(), p.numel());
  else
    fail("optimizer: parameters must be f32 or f64, got {}", p.dtype());
  if (staged) backend(p.device()).copy_from_host(p.raw_data(), host.raw_data(), p.nbytes());
}

// The element type of a host pointer passed by with_host_data.
template <class P>
using elem_t = std::remove_const_t<std::remove_pointer_t<P>>;

// A moment that has decayed below the smallest normal float becomes 0. Weights whose gradient stays
// 0 (common in shift networks) would otherwise keep subnormal exp_avg / momentum values, and
// subnormal arithmetic is ~100x slower on x86: a DeepShift-PS run slowed down 40 % over 5 epochs.
// The effect on the update is below 1e-30.
template <class T>
inline T flush_subnormal(T x) {
  return std::abs(x) < std::numeric_limits<T>::min() ? T(0) : x;
}

}  // namespace sl::detail
