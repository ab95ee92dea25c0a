// DenseShift (Li et al., ICCV 2023), spec Part C: zero-free shift weights W = s * 2^p. The sign latent
// is the layer's own `weight`; gates `gate1`..`gateK` (K = 2^(N-1) - 1) build the exponent
// recursively: p_1 = b_1, p_j = (p_{j-1} + 1) * b_j, b_j = [gate_j > 0], so N bits give 2^N
// non-zero levels {+-1, ..., +-2^K}. The backward uses the original code's surrogate W_bw = s *
// sqrt(p + 1) (a damped gradient for large weights) with straight-through thresholds. Latents start
// from the low-variance N(0, 1e-3) initialisation.
#pragma once
#include "engine/rng.h"
#include "quant/quantizer.h"

namespace sl {

class DenseShiftWeight : public WeightQuantizer {
 public:
  // output_scale multiplies every level (see S3Weight).
  DenseShiftWeight(const Tensor& weight, int bits, Generator& gen, double init_std = 1e-3, double output_scale = 1);
  std::string method() const override { return "denseshift"; }
  int bits() const override { return bits_; }
  double scale() const override { return output_scale_; }
  std::vector<double> magnitudes() const override;
  Tensor effective_weight(const Tensor& weight) override;
  const std::vector<Tensor>& gates() const { return gates_; }

 private:
  int bits_;
  double output_scale_;
  std::vector<Tensor> gates_;
};

}  // namespace sl
