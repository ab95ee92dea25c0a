// DeepShift (Elhoushi et al., arXiv 1905.13298) as its code defines it (spec §A2–A6):
//   DeepShift-Q:  W_q = sign(W) * 2^round(log2|W|), after clamping |W| into [2^lo, 1] in place;
//                 straight-through gradient to the FP32 weight.
//   DeepShift-PS: latent shift P and sign S; W = sign(round(S)) * 2^round(P) with P clamped in
//                 place to [lo, 0]; dL/dS = G and dL/dP = G * W * ln2 (the asymmetric product rule).
//   Fixed-point activations: floor(x * 2^F) / 2^F clamped to [-2^(I-1), 2^(I-1) - 1], STE.
#pragma once
#include "engine/rng.h"
#include "quant/quantizer.h"

namespace sl {

enum class Rounding { deterministic, stochastic };
Rounding rounding_from_name(const std::string& name);  // "deterministic" | "stochastic"

// ---- primitives (no gradient; the quantizers wrap them in straight-through estimators) ----
// round(ln|x| / ln2) in float32, as upstream computes it (-inf for 0).
Tensor shift_of(const Tensor& w, Rounding rounding = Rounding::deterministic, Generator* gen = nullptr);
// sign(x) * 2^round(log2|x|); 0 stays 0.
Tensor round_power_of_2(const Tensor& w, Rounding rounding = Rounding::deterministic, Generator* gen = nullptr);
// Magnitude clamp keeping the sign; exact zeros stay zero.
Tensor clampabs(const Tensor& w, double lo, double hi);
// DeepShift's round_to_fixed (floor, upper bound 2^(I-1) - 1; I = 1 gives sign(x) - 1 as upstream).
Tensor round_to_fixed(const Tensor& x, int integer_bits, int fraction_bits);
// floor(x) + [u < x - floor(x)] with u uniform in [0, 1) drawn from gen (or given).
Tensor stochastic_round(const Tensor& x, Generator& gen);
Tensor stochastic_round_with(const Tensor& x, const Tensor& u);

// Exponent ranges of weight_bits (spec §A3): Q [-(2^(b-1)-1), 0], PS [-(2^(b-1)-2), 0].
int deepshift_q_min_shift(int weight_bits);
int deepshift_ps_min_shift(int weight_bits);

struct FixedPointFormat {
  int integer_bits = 16, fraction_bits = 16;
};

class DeepShiftQ : public WeightQuantizer {
 public:
  // round_bias: conv layers round their bias to the activation format (upstream Conv2dShiftQ);
  // linear layers keep it unrounded (LinearShiftQ).
  DeepShiftQ(int weight_bits, Rounding rounding, bool round_bias, FixedPointFormat format = {});
  std::string method() const override { return "deepshift-q"; }
  int bits() const override { return bits_; }
  std::vector<double> magnitudes() const override;
  Tensor effective_weight(const Tensor& weight) override;
  Tensor effective_bias(const Tensor& bias) override;

 private:
  int bits_;
  Rounding rounding_;
  bool round_bias_;
  FixedPointFormat format_;
};

class DeepShiftPS : public WeightQuantizer {
 public:
  // Initialised from an FP32 weight (DeepShift's conversion): P0 = round(log2|W|), S0 = sign(W).
  DeepShiftPS(const Tensor& weight, int weight_bits, Rounding rounding, bool round_bias, bool freeze_sign = false,
              FixedPointFormat format = {});
  std::string method() const override { return "deepshift-ps"; }
  int bits() const override { return bits_; }
  std::vector<double> magnitudes() const override;
  bool uses_weight() const override { return false; }
  Tensor effective_weight(const Tensor& weight) override;
  Tensor effective_bias(const Tensor& bias) override;
  // 1/2 * sum((2^P)^2): DeepShift's replacement for weight decay on the shifts (the trainer scales it by wd).
  Tensor regularization() override;
  Tensor shift() const { return shift_; }
  Tensor sign() const { return sign_; }

 private:
  int bits_;
  Rounding rounding_;
  bool round_bias_;
  FixedPointFormat format_;
  Tensor shift_, sign_;
};

// The fixed-point activation rounding DeepShift applies to the input of its shift layers.
class FixedPointInput : public InputQuantizer {
 public:
  explicit FixedPointInput(FixedPointFormat format);
  std::string type_name() const override { return "FixedPointInput"; }
  Tensor forward(const Tensor& x) override;

 private:
  FixedPointFormat format_;
};

}  // namespace sl
