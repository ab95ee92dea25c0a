// APoT (Li, Dong, Wang, ICLR 2020: additive powers-of-two), its uniform variant and the 8-bit
// first/last layers, as the original code defines them (spec Part A). Two code flavours exist and
// differ in their gradients: `imagenet` (the newer layer; gradients through the weight
// normalisation, clamp-masked weight gradient) and `cifar` (the older one: constant normalisation,
// unmasked weight gradient, activations clamped only from above). Both are offered; see
// docs/quantizers.md for which one each recipe uses.
#pragma once
#include <cmath>

#include "quant/levels.h"
#include "quant/quantizer.h"

namespace sl {

enum class APoTFlavour { imagenet, cifar };
APoTFlavour apot_flavour_from_name(const std::string& name);  // "imagenet" | "cifar"

struct APoTOptions {
  int bits = 4;
  bool power = true;       // false: uniform levels (the paper's uniform baseline)
  APoTFlavour flavour = APoTFlavour::imagenet;
  double grad_scale = 0;   // 0 = off; else the clipping threshold's gradient is multiplied by it
  double alpha = 3.0;      // initial clipping threshold
  // Multiply W_q by the weight's (constant) std so the layer keeps its FP32 scale: needed when no
  // BatchNorm follows the layer to absorb alpha (shiftlab's extension; APoT's nets all have BN).
  bool rescale = false;
};

// Weights: normalised to zero mean / unit (unbiased) std over the tensor, clipped at +-alpha,
// projected on the signed level set of B = bits - 1 (bits = 2: ternary with calibrated gradients).
class APoTWeight : public WeightQuantizer {
 public:
  explicit APoTWeight(const APoTOptions& options);
  std::string method() const override { return options_.power ? "apot" : "uniform"; }
  int bits() const override { return options_.bits; }
  std::vector<double> magnitudes() const override;
  double scale() const override;
  Tensor effective_weight(const Tensor& weight) override;
  Tensor alpha() const { return alpha_; }

 private:
  Tensor quantize(const Tensor& weight, double scale);
  APoTOptions options_;
  LevelSet levels_;  // unused for ternary and uniform
  Tensor alpha_;
  double std_ = 1;   // the weight std of the last forward (with rescale)
};

// Activations entering a layer (unsigned, after ReLU): clipped at alpha and projected on the level
// set of B = bits.
class APoTActivation : public InputQuantizer {
 public:
  explicit APoTActivation(const APoTOptions& options);  // options.alpha: 6.0 (imagenet) / 8.0 (cifar) upstream
  std::string type_name() const override { return "APoTActivation"; }
  Tensor forward(const Tensor& x) override;
  Tensor alpha() const { return alpha_; }
  std::vector<double> levels() const;  // the output levels in units of alpha, ascending

 private:
  APoTOptions options_;
  LevelSet levels_;
  Tensor alpha_;
};

// The first conv and the last FC of APoT's networks: round(W / m * 127) / 127 * m with m the
// signed maximum of W, straight-through gradient (no clamp: values below -m go past -127 steps).
// An all-negative W has m < 0 and is quantized the same way; the level scale is |m| / 127.
class APoTFirstLast : public WeightQuantizer {
 public:
  std::string method() const override { return "apot-8bit"; }
  int bits() const override { return 8; }
  std::vector<double> magnitudes() const override;
  double scale() const override { return std::abs(max_) / 127.0; }
  Tensor effective_weight(const Tensor& weight) override;

 private:
  double max_ = 1;    // m of the last forward
  int64_t steps_ = 127;  // largest |round(W / m * 127)| of the last forward
};

// The clipping threshold with its gradient multiplied by s (value unchanged): APoT's gradient_scale.
Tensor gradient_scale(const Tensor& alpha, double s);

}  // namespace sl
