// S3: sign-sparse-shift reparametrisation (Li et al., NeurIPS 2021), spec Part B. Each weight owns
// FP32 latents: the sign (the layer's own `weight`), a sparse gate (`sparse`) and shift gates
// (`shift1`, `shift2`, ...). Forward, with hard thresholds: W = s * z * 2^k, s = [w_sign >= 0] ? 1 : -1,
// z = [sparse > 0], k = b1 * (1 + b2 * (1 + ...)), b_i = [shift_i > 0]. Backward: straight through
// every threshold, true derivatives of the product and of 2^k. 3 bits gives {0, +-1, +-2, +-4} (the
// published code); N bits generalises with 2^(N-1) - 2 nested shift gates (inferred, spec §B6).
#pragma once
#include "engine/rng.h"
#include "quant/quantizer.h"

namespace sl {

enum class S3Init {
  dense,  // the paper's dense prior (first commit): every weight starts at +-1
  he,     // the published master: all latents ~ N(0, sqrt(2 / (kh*kw*cout))), half the weights zero
};
S3Init s3_init_from_name(const std::string& name);  // "dense" | "he"

class S3Weight : public WeightQuantizer {
 public:
  // Draws the latents (overwriting `weight`, which becomes the sign latent) from `gen`.
  // output_scale multiplies every level (1 as the original; shiftlab sets 1/sqrt(3 fan_in) for
  // layers that no BatchNorm follows, so a +-1 weight has the variance of PyTorch's default init).
  S3Weight(const Tensor& weight, int bits, S3Init init, Generator& gen, double output_scale = 1);
  std::string method() const override { return "s3"; }
  int bits() const override { return bits_; }
  double scale() const override { return output_scale_; }
  std::vector<double> magnitudes() const override;
  Tensor effective_weight(const Tensor& weight) override;
  // sum(max(-sparse, 0)): the dense-weight regulariser (the trainer scales it by --rs, 1e-5 upstream).
  Tensor regularization() override;
  Tensor sparse() const { return sparse_; }
  const std::vector<Tensor>& shifts() const { return shifts_; }

 private:
  int bits_;
  double output_scale_;
  Tensor sparse_;
  std::vector<Tensor> shifts_;
};

}  // namespace sl
