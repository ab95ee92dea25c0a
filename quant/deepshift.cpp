#include "quant/deepshift.h"

#include <cmath>

#include "autograd/function.h"
#include "backends/backend.h"
#include "engine/factory.h"

namespace sl {

namespace {
constexpr double kLn2 = 0.6931471805599453;

// Rounds a log-domain value as the run asks (half-to-even, or stochastically).
Tensor round_mode(const Tensor& x, Rounding rounding, Generator* gen) {
  if (rounding == Rounding::deterministic) return round(x);
  return stochastic_round(x, gen ? *gen : default_generator());
}

// Both DeepShift variants round a layer's bias to their activations' fixed point (straight-through).
Tensor fixed_point_bias(const Tensor& bias, bool round_bias, FixedPointFormat f) {
  if (!bias.defined() || !round_bias) return bias;
  return straight_through(
      bias, [f](const Tensor& b) { return round_to_fixed(b, f.integer_bits, f.fraction_bits); }, nullptr,
      "round_to_fixed");
}

}  // namespace

Rounding rounding_from_name(const std::string& name) {
  if (name == "deterministic") return Rounding::deterministic;
  if (name == "stochastic") return Rounding::stochastic;
  fail("unknown rounding '{}' (expected deterministic or stochastic)", name);
}

Tensor shift_of(const Tensor& w, Rounding rounding, Generator* gen) {
  NoGradGuard no_grad;
  // float32 logf(|w|) divided by float32(ln 2), exactly as upstream (not log2f): ties near
  // sqrt(2)*2^k depend on it.
  return round_mode(div(log(abs(w)), scalar_like(kLn2, w)), rounding, gen);
}

Tensor round_power_of_2(const Tensor& w, Rounding rounding, Generator* gen) {
  NoGradGuard no_grad;
  return mul(exp2(shift_of(w, rounding, gen)), sign(w));
}

Tensor clampabs(const Tensor& w, double lo, double hi) {
  NoGradGuard no_grad;
  return mul(sign(w), clamp(abs(w), lo, hi));  // sign(0) = 0 keeps exact zeros
}

Tensor round_to_fixed(const Tensor& x, int integer_bits, int fraction_bits) {
  SL_CHECK(integer_bits >= 1 && fraction_bits >= 0, "round_to_fixed: integer bits {} must be >= 1 and fraction bits {} >= 0",
           integer_bits, fraction_bits);
  NoGradGuard no_grad;
  if (integer_bits == 1) return sub(sign(x), scalar_like(1.0, x));  // upstream's placeholder, kept for fidelity
  double delta = std::ldexp(1.0, -fraction_bits), bound = std::ldexp(1.0, integer_bits - 1);
  // clamp(floor(x / delta) * delta, -bound, bound - 1) in one pass.
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() > 0)
    backend(x.device()).round_to_fixed(x.dtype(), x.raw_data(), x.numel(), delta, -bound, bound - 1, y.raw_data());
  return y;
}

Tensor stochastic_round_with(const Tensor& x, const Tensor& u) {
  NoGradGuard no_grad;
  Tensor f = floor(x);
  return add(f, lt(u, sub(x, f)));
}

Tensor stochastic_round(const Tensor& x, Generator& gen) {
  return stochastic_round_with(x, rand(x.shape(), x.dtype(), x.device(), 0, 1, &gen));
}

int deepshift_q_min_shift(int b) {
  SL_CHECK(b >= 2 && b <= 8, "deepshift-q: weight bits must be in [2, 8], got {}", b);
  return -((1 << (b - 1)) - 1);
}

int deepshift_ps_min_shift(int b) {
  SL_CHECK(b >= 2 && b <= 8, "deepshift-ps: weight bits must be in [2, 8], got {}", b);
  return -((1 << (b - 1)) - 2);
}

namespace {
std::vector<double> powers_from(int lo, bool with_zero) {
  std::vector<double> m;
  if (with_zero) m.push_back(0);
  for (int e = lo; e <= 0; ++e) m.push_back(std::ldexp(1.0, e));
  return m;
}
}  // namespace

// ---- DeepShift-Q ----

DeepShiftQ::DeepShiftQ(int weight_bits, Rounding rounding, bool round_bias, FixedPointFormat format)
    : bits_(weight_bits), rounding_(rounding), round_bias_(round_bias), format_(format) {
  deepshift_q_min_shift(weight_bits);  // validates the range
}

// Q spends 1 sign bit and b-1 exponent bits: 2^b codes, no zero level (an exactly zero weight, which
// the clamp leaves at 0, exports with sign 0 as upstream's packer does).
std::vector<double> DeepShiftQ::magnitudes() const { return powers_from(deepshift_q_min_shift(bits_), false); }

Tensor DeepShiftQ::effective_weight(const Tensor& weight) {
  SL_CHECK(weight.defined(), "deepshift-q needs the layer's weight");
  const double lo = std::ldexp(1.0, deepshift_q_min_shift(bits_));
  if (rounding_ == Rounding::deterministic) {
    // Upstream clamps the master weight itself, permanently; the kernel does that and rounds to a
    // power of two in one pass. The gradient passes straight through to the latent weight.
    Tensor latent = weight;  // a handle: the kernel writes the clamped values into the parameter
    Tensor wq = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
    if (weight.numel() > 0)
      backend(weight.device()).deepshift_q_forward(weight.dtype(), weight.numel(), lo, 1.0, latent.raw_data(),
                                                   wq.raw_data());
    return record("deepshift_q", wq, {weight}, [](const Tensor& g, const std::vector<bool>&) { return TensorList{g}; });
  }
  {
    NoGradGuard no_grad;
    copy_data(weight, clampabs(weight, lo, 1.0));
  }
  Rounding r = rounding_;
  return straight_through(
      weight, [r](const Tensor& w) { return round_power_of_2(w, r); }, nullptr, "deepshift_q");
}

Tensor DeepShiftQ::effective_bias(const Tensor& bias) { return fixed_point_bias(bias, round_bias_, format_); }

// ---- DeepShift-PS ----

DeepShiftPS::DeepShiftPS(const Tensor& weight, int weight_bits, Rounding rounding, bool round_bias, bool freeze_sign,
                         FixedPointFormat format)
    : bits_(weight_bits), rounding_(rounding), round_bias_(round_bias), format_(format) {
  deepshift_ps_min_shift(weight_bits);
  SL_CHECK(weight.defined(), "deepshift-ps: needs the FP32 weight to initialise from");
  Tensor w = weight.detach();
  // Not clamped yet: -inf for zero weights becomes the lower bound at the first forward, as upstream.
  shift_ = register_parameter("shift", clone(shift_of(w)));
  sign_ = register_parameter("sign", clone(sl::sign(w)), !freeze_sign);
}

std::vector<double> DeepShiftPS::magnitudes() const { return powers_from(deepshift_ps_min_shift(bits_), true); }

Tensor DeepShiftPS::effective_weight(const Tensor&) {
  int lo = deepshift_ps_min_shift(bits_);
  if (rounding_ == Rounding::deterministic) {
    // One pass each way: the kernel clamps the shift latent in place (upstream's permanent clamp)
    // and builds the weight; the backward recomputes 2^p and the sign from the latents.
    Tensor w = Tensor::empty(shift_.shape(), shift_.dtype(), shift_.device());
    Backend& be = backend(shift_.device());
    if (w.numel() > 0)
      be.deepshift_ps_forward(w.dtype(), w.numel(), lo, shift_.raw_data(), sign_.raw_data(), w.raw_data());
    Tensor shift = shift_.detach(), sign = sign_.detach();
    return record("deepshift_ps", w, {shift_, sign_}, [shift, sign](const Tensor& g, const std::vector<bool>& needs) {
      TensorList grads(2);
      if (needs[0]) {
        grads[0] = Tensor::empty(g.shape(), g.dtype(), g.device());
        if (g.numel() > 0)
          backend(g.device()).deepshift_ps_backward(g.dtype(), g.numel(), shift.raw_data(), sign.raw_data(), g.raw_data(),
                                                    grads[0].raw_data());
      }
      if (needs[1]) grads[1] = g;
      return grads;
    });
  }
  Tensor p_round, s_round;
  {
    NoGradGuard no_grad;
    copy_data(shift_, clamp(shift_, lo, 0));  // the permanent in-place clamp of upstream's forward
    p_round = round_mode(shift_, rounding_, nullptr);
    s_round = sl::sign(round_mode(sign_, rounding_, nullptr));
  }
  Tensor magnitude = exp2(p_round);
  Tensor w = mul(magnitude, s_round);
  // dS = G (straight through sign and round); dP = (G * sign) * (2^p * ln2): STE through round,
  // the true derivative of 2^p, and the asymmetric product rule of upstream's unsym_grad_mul.
  return record("deepshift_ps", w, {shift_, sign_}, [magnitude, s_round](const Tensor& g, const std::vector<bool>& needs) {
    TensorList grads(2);
    if (needs[0]) grads[0] = mul(mul(g, s_round), mul(magnitude, scalar_like(kLn2, magnitude)));
    if (needs[1]) grads[1] = g;
    return grads;
  });
}

Tensor DeepShiftPS::effective_bias(const Tensor& bias) { return fixed_point_bias(bias, round_bias_, format_); }

Tensor DeepShiftPS::regularization() {
  return mul(sum(square(exp2(shift_))), scalar_like(0.5, shift_));
}

// ---- fixed-point activations ----

FixedPointInput::FixedPointInput(FixedPointFormat format) : format_(format) {
  SL_CHECK(format.integer_bits >= 1 && format.fraction_bits >= 0 && format.integer_bits + format.fraction_bits <= 32,
           "activation bits: integer bits {} must be >= 1, fraction bits {} >= 0, total <= 32", format.integer_bits,
           format.fraction_bits);
}

Tensor FixedPointInput::forward(const Tensor& x) {
  FixedPointFormat f = format_;
  return straight_through(
      x, [f](const Tensor& v) { return round_to_fixed(v, f.integer_bits, f.fraction_bits); }, nullptr,
      "round_to_fixed");
}

}  // namespace sl
