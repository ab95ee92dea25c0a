// Shared by the optimizer files (not public): host access to a parameter and its gradient for the
// backend's optimizer-step kernels.
#pragma once
#include "backends/backend.h"
#include "engine/tensor.h"

namespace sl::detail {

// Runs fn(void* p, const void* g, int64_t n) on host buffers of the parameter and its gradient (f32 or
// f64, the parameter's dtype): directly on the parameter's storage when it is on the CPU, else on a
// host copy that is written back after.
template <class Fn>
void with_host_data(const Tensor& param, const Tensor& grad, Fn&& fn) {
  SL_CHECK(grad.shape() == param.shape(), "optimizer: gradient shape {} differs from parameter shape {}",
           shape_str(grad.shape()), shape_str(param.shape()));
  SL_CHECK(grad.dtype() == param.dtype(), "optimizer: gradient dtype {} differs from parameter dtype {}", grad.dtype(),
           param.dtype());
  SL_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64,
           "optimizer: parameters must be f32 or f64, got {}", param.dtype());
  Tensor p = param.detach();
  bool staged = p.device() != Device::cpu;
  Tensor host = staged ? p.to(Device::cpu) : p;
  Tensor g = grad.device() == Device::cpu ? grad.detach() : grad.detach().to(Device::cpu);
  fn(host.raw_data(), g.raw_data(), p.numel());
  if (staged) backend(p.device()).copy_from_host(p.raw_data(), host.raw_data(), p.nbytes());
}

}  // namespace sl::detail
