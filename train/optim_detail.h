// Shared by the optimizer files (not public): the checks every optimizer step makes before it runs
// the backend's step kernel where the parameter lives (its state lives there too: no host round trip).
#pragma once
#include "backends/backend.h"
#include "engine/tensor.h"

namespace sl::detail {

// The gradient of `param`, checked to match it in shape, dtype (f32 or f64) and device.
inline const Tensor& checked_gradient(const Tensor& param, const Tensor& grad) {
  SL_CHECK(grad.shape() == param.shape(), "optimizer: gradient shape {} differs from parameter shape {}",
           shape_str(grad.shape()), shape_str(param.shape()));
  SL_CHECK(grad.dtype() == param.dtype(), "optimizer: gradient dtype {} differs from parameter dtype {}", grad.dtype(),
           param.dtype());
  SL_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64,
           "optimizer: parameters must be f32 or f64, got {}", param.dtype());
  SL_CHECK(grad.device() == param.device(), "optimizer: gradient on {} but the parameter on {}", grad.device(),
           param.device());
  return grad;
}

// A state buffer's data, or null when the step does not keep it.
inline void* data_or_null(Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

}  // namespace sl::detail
