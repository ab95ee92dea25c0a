// DeepShift-Q / PS and fixed-point rounding against the golden vectors of the original code
// (test/data/golden/deepshift/README.md describes every file).
#include "golden.h"
#include "quant/deepshift.h"

using namespace sl;
using sl::test::check_values;
using sl::test::golden_path;

namespace {
Tensor golden(const std::string& name) { return sl::test::golden("deepshift/" + name); }
Tensor param(const std::string& name) { return sl::test::golden_param("deepshift/" + name); }
std::vector<uint8_t> tie_mask() { return golden("q_tie_mask").to_vector<uint8_t>(); }
}  // namespace

TEST_CASE("deepshift primitives: shift, sign and power-of-two rounding in the log domain", "[quant][deepshift]") {
  Tensor w = golden("q_w");
  check_values(shift_of(w), golden("q_shift"), 0, tie_mask());
  check_values(sign(w), golden("q_sign"));
  check_values(round_power_of_2(w), golden("q_round_pow2"), 0, tie_mask());
  check_values(stochastic_round_with(golden("stoch_x"), golden("stoch_u")), golden("stoch_out"));
}

TEST_CASE("deepshift-q weights for 5, 4, 3 and 2 bits, with the in-place clamp of the master weight", "[quant][deepshift]") {
  for (int bits : {5, 4, 3, 2}) {
    INFO("weight bits " << bits);
    Tensor w = param("q_w");
    DeepShiftQ q(bits, Rounding::deterministic, false);
    check_values(q.effective_weight(w), golden("q_wb" + std::to_string(bits)), 0, tie_mask());
    double lo = std::ldexp(1.0, deepshift_q_min_shift(bits));
    for (double v : w.detach().to_vector<double>()) CHECK((v == 0 || (std::abs(v) >= lo && std::abs(v) <= 1)));
  }
}

TEST_CASE("deepshift-ps weights from shift and sign parameters, and conversion from FP32", "[quant][deepshift]") {
  for (int bits : {5, 4, 3, 2}) {
    INFO("weight bits " << bits);
    DeepShiftPS ps(golden("ps_P"), bits, Rounding::deterministic, false);
    copy_data(ps.shift(), golden("ps_P"));
    copy_data(ps.sign(), golden("ps_S"));
    check_values(ps.effective_weight(Tensor()), golden("ps_W_wb" + std::to_string(bits)));
  }
  DeepShiftPS converted(golden("ps_conv_w"), 5, Rounding::deterministic, false);
  check_values(converted.shift().detach(), golden("ps_conv_P0"));
  check_values(converted.sign().detach(), golden("ps_conv_S0"));
  auto names = converted.named_parameters();
  REQUIRE(names.size() == 2);
  CHECK(names[0].first == "shift");
  CHECK(names[1].first == "sign");
}

TEST_CASE("fixed-point rounding of activations (floor, upper bound 2^(I-1) - 1)", "[quant][deepshift]") {
  Tensor x = golden("fixed_x");
  for (auto [i, f] : std::vector<std::pair<int, int>>{{16, 16}, {3, 5}, {8, 8}, {4, 2}, {3, 13}, {1, 4}}) {
    INFO("I " << i << " F " << f);
    check_values(round_to_fixed(x, i, f), golden("fixed_i" + std::to_string(i) + "_f" + std::to_string(f)));
  }
}

TEST_CASE("deepshift-q linear layer: forward, gradients and master weight", "[quant][deepshift]") {
  for (auto [tag, fmt] : std::vector<std::pair<std::string, FixedPointFormat>>{{"i16f16", {16, 16}}, {"i3f5", {3, 5}}}) {
    INFO("activation format " << tag);
    Tensor x = param("linq_x"), w = param("linq_W"), b = param("linq_b");
    DeepShiftQ q(5, Rounding::deterministic, false, fmt);
    FixedPointInput in(fmt);
    Tensor y = linear(in(x), q.effective_weight(w), q.effective_bias(b));
    check_values(y, golden("linq_" + tag + "_y"), 1e-6);
    y.backward(golden("linq_gout"));
    check_values(w.grad(), golden("linq_" + tag + "_gW"), 1e-6);
    check_values(x.grad(), golden("linq_" + tag + "_gx"), 1e-6);
    check_values(b.grad(), golden("linq_gb"), 1e-6);
    check_values(w.detach(), golden("linq_" + tag + "_W_after"));
  }
}

TEST_CASE("deepshift-ps linear layer: dS = G, dP = G * W * ln2", "[quant][deepshift]") {
  Tensor x = param("linps_x"), b = param("linps_b");
  DeepShiftPS ps(golden("linps_P"), 5, Rounding::deterministic, false);
  copy_data(ps.shift(), golden("linps_P"));
  copy_data(ps.sign(), golden("linps_S"));
  Tensor y = linear(x, ps.effective_weight(Tensor()), b);  // LinearShift rounds neither input nor bias
  check_values(y, golden("linps_y"), 1e-6);
  y.backward(golden("linps_gout"));
  check_values(ps.shift().grad(), golden("linps_gP"), 1e-6);
  check_values(ps.sign().grad(), golden("linps_gS"), 1e-6);
  check_values(x.grad(), golden("linps_gx"), 1e-6);
}

TEST_CASE("deepshift conv layers (Q 4-bit with 16.16 activations, PS 5-bit with 3.5 activations)", "[quant][deepshift]") {
  for (int stride : {1, 2}) {
    INFO("stride " << stride);
    std::string s = "s" + std::to_string(stride);
    Conv2dArgs args;
    args.stride = {stride, stride};
    args.padding = {1, 1};

    Tensor x = param("conv_x"), w = param("conv_W"), b = param("conv_b");
    DeepShiftQ q(4, Rounding::deterministic, true, {16, 16});
    FixedPointInput q_in({16, 16});
    Tensor yq = conv2d(q_in(x), q.effective_weight(w), q.effective_bias(b), args);
    check_values(yq, golden("convq_" + s + "_y"), 1e-6);
    yq.backward(golden("conv_" + s + "_gout"));
    check_values(w.grad(), golden("convq_" + s + "_gW"), 1e-5);

    Tensor x2 = param("conv_x"), b2 = param("conv_b");
    DeepShiftPS ps(golden("conv_P"), 5, Rounding::deterministic, true, false, {3, 5});
    copy_data(ps.shift(), golden("conv_P"));
    copy_data(ps.sign(), golden("conv_S"));
    FixedPointInput ps_in({3, 5});
    Tensor yp = conv2d(ps_in(x2), ps.effective_weight(Tensor()), ps.effective_bias(b2), args);
    check_values(yp, golden("convps_" + s + "_y"), 1e-6);
    yp.backward(golden("conv_" + s + "_gout"));
    check_values(ps.shift().grad(), golden("convps_" + s + "_gP"), 1e-5);
    check_values(ps.sign().grad(), golden("convps_" + s + "_gS"), 1e-5);
    check_values(x2.grad(), golden("convps_" + s + "_gx"), 1e-5);
    check_values(b2.grad(), golden("convps_" + s + "_gb"), 1e-5);
  }
}

TEST_CASE("deepshift quantizers export codes on their level sets", "[quant][deepshift]") {
  Tensor w = param("q_w");
  DeepShiftQ q(3, Rounding::deterministic, false);
  ExportedCodes c = q.export_codes(w);
  CHECK(c.magnitudes == std::vector<double>{0.125, 0.25, 0.5, 1});
  NoGradGuard ng;
  check_values(c.values(), q.effective_weight(w));  // q_w holds exact zeros: exported with sign 0
  CHECK(q.levels().size() == 8);  // +-2^-3..2^0: 1 sign bit + 2 exponent bits
  CHECK(sl::test::error_of([] { DeepShiftQ(9, Rounding::deterministic, false); }).find("[2, 8]") != std::string::npos);
}

TEST_CASE("export_codes leaves the model as it was: latents the forward clamps are not clamped", "[quant][deepshift]") {
  // DeepShift-Q clamps its weight into [2^-15, 1] in a forward, -PS its shift into [-14, 0].
  Tensor w = from_vector(std::vector<float>{3.0f, -1e-9f, 0.5f, -2.0f}, {2, 2});
  std::vector<float> w_before = w.to_vector<float>();
  DeepShiftQ q(5, Rounding::deterministic, false);
  ExportedCodes qc = q.export_codes(w);
  CHECK(w.to_vector<float>() == w_before);
  CHECK(qc.values().to_vector<float>() == std::vector<float>{1.0f, -std::ldexp(1.0f, -15), 0.5f, -1.0f});

  DeepShiftPS ps(from_vector(std::vector<float>{1, -1, 0.25f, 0.5f}, {2, 2}), 5, Rounding::deterministic, false);
  copy_data(ps.shift(), from_vector(std::vector<float>{-100, 2, -2, -1}, {2, 2}));
  std::vector<float> shift_before = ps.shift().to_vector<float>();
  ExportedCodes pc = ps.export_codes(Tensor());
  CHECK(ps.shift().to_vector<float>() == shift_before);
  CHECK(pc.values().to_vector<float>() == std::vector<float>{std::ldexp(1.0f, -14), -1.0f, 0.25f, 0.5f});
  // Training still clamps, as the originals do.
  ps.effective_weight(Tensor());
  CHECK(ps.shift().to_vector<float>() == std::vector<float>{-14, 0, -2, -1});
}
