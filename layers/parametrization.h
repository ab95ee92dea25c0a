// Hooks by which a quantizer turns an ordinary Conv2d or Linear into a shift layer without a second
// layer class (DESIGN.md: "a quantized layer is the ordinary layer plus a quantizer").
#pragma once
#include "layers/module.h"

namespace sl {

// Builds the weight (and bias) the layer computes with from the layer's own parameters and the
// latent parameters it owns (registered on itself, so they appear under the layer's prefix).
class WeightParametrization : public Module {
 public:
  // `weight` is the layer's FP32 weight parameter, or undefined when the parametrization has
  // removed it (e.g. DeepShift-PS keeps `shift` and `sign` instead).
  virtual Tensor effective_weight(const Tensor& weight) = 0;
  virtual Tensor effective_bias(const Tensor& bias) { return bias; }
};

// Transforms the layer's input before the product (fixed-point rounding, APoT's clipped activation
// quantiser).
class InputQuantizer : public Module {
 public:
  Tensor forward(const Tensor& x) override = 0;
};

}  // namespace sl
