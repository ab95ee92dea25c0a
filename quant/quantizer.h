// The weight-quantizer interface shared by every family (DeepShift-Q/PS, APoT/uniform, S3,
// DenseShift). A quantizer is a WeightParametrization: attached to an ordinary Conv2d/Linear, it
// owns its latent parameters and builds the effective weight each forward from differentiable ops.
#pragma once
#include <string>
#include <vector>

#include "layers/parametrization.h"

namespace sl {

// A trained weight as integer codes: value = sign * magnitudes[index] * scale. A family without a
// zero level (DeepShift-Q, DenseShift) exports an exactly zero weight as sign 0.
struct ExportedCodes {
  Tensor sign;                     // i8 in {-1, 0, +1}, the weight's shape
  Tensor index;                    // i32 index into `magnitudes`, the weight's shape
  std::vector<double> magnitudes;  // level magnitudes in units of `scale`, ascending
  double scale = 1;
  Tensor values() const;           // f32 reconstruction
};

class WeightQuantizer : public WeightParametrization {
 public:
  std::string type_name() const override { return "WeightQuantizer(" + method() + ")"; }
  virtual std::string method() const = 0;  // "deepshift-q", "apot", ...
  virtual int bits() const = 0;
  // The magnitudes |w| / scale the effective weight can take (0 included when the family has a
  // zero), ascending. The signed level set is {+-m} over these.
  virtual std::vector<double> magnitudes() const = 0;
  // The per-layer scale of the levels (APoT's alpha); 1 for the pure shift families.
  virtual double scale() const { return 1; }
  // False when the quantizer replaces the layer's FP32 weight by its own latents (DeepShift-PS);
  // the layer then drops its `weight` parameter.
  virtual bool uses_weight() const { return true; }
  // An extra loss term the family trains with (DeepShift-PS's shift penalty, S3's dense-weight
  // regulariser), or undefined.
  virtual Tensor regularization() { return Tensor(); }

  // Sorted signed levels in units of scale(): {-m_k, ..., +m_k}.
  std::vector<double> levels() const;
  // Codes of the current effective weight; throws naming the element if a value is off the level set.
  // Changes nothing: latents a forward clamps in place are restored.
  ExportedCodes export_codes(const Tensor& weight);
};

}  // namespace sl
