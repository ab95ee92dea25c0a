#include "quant/families/common.h"

#include <algorithm>
#include <cmath>

#include "layers/weight_layer.h"
#include "quant/apot.h"

namespace sl {

FixedPointFormat fixed_point_format(const QuantConfig& c) {
  if (c.act_bits.empty()) return {16, 16};
  SL_CHECK(c.act_bits.size() == 2, "act_bits for {} takes two numbers, integer and fraction bits (e.g. 16 16), got {}",
           c.method, c.act_bits.size());
  return {c.act_bits[0], c.act_bits[1]};
}

void check_deepshift_options(const QuantConfig& c) { fixed_point_format(c); }

int apot_activation_bits(const QuantConfig& c, int weight_bits, bool power) {
  // APoT trains W = A bits; its activation level sets stop at 6 bits.
  if (c.act_bits.empty()) return power ? std::min(weight_bits, 6) : weight_bits;
  SL_CHECK(c.act_bits.size() == 1, "act_bits for {} takes one number (32 = FP32 activations), got {}", c.method,
           c.act_bits.size());
  return c.act_bits[0];
}

void check_apot_options(const QuantConfig& c, int bits, bool power) {
  int ab = apot_activation_bits(c, bits, power);
  int top = power ? 6 : 8;
  SL_CHECK(ab == 32 || (ab >= 2 && ab <= top), "{}: activation bits must be in [2, {}] or 32 (FP32), got {}", c.method,
           top, ab);
}

void attach_apot(const FamilyLayer& f, const QuantConfig& c, bool power) {
  APoTOptions o;
  o.bits = f.bits;
  o.power = power;
  o.flavour = apot_flavour_from_name(c.apot_flavour);
  o.alpha = 3.0;
  o.rescale = f.rescale;
  f.layer.set_weight_parametrization(std::make_shared<APoTWeight>(o));
  int ab = apot_activation_bits(c, f.bits, power);
  if (ab != 32) {
    APoTOptions a = o;
    a.bits = ab;
    a.alpha = o.flavour == APoTFlavour::imagenet ? 6.0 : 8.0;
    f.layer.set_input_quantizer(std::make_shared<APoTActivation>(a));
  }
}

namespace {
APoTOptions standalone_apot_options(const StandaloneOptions& o, int bits, bool power) {
  APoTOptions a;
  a.bits = bits;
  a.power = power;
  a.alpha = o.alpha;
  a.flavour = apot_flavour_from_name(o.flavour);
  return a;
}
}  // namespace

StandaloneQuantizer apot_standalone(const StandaloneOptions& o, const std::vector<Tensor>& in, bool power) {
  StandaloneQuantizer s;
  s.q = std::make_unique<APoTWeight>(standalone_apot_options(o, o.bits, power));
  if (!in.empty()) s.weight = in[0];
  return s;
}

StandaloneActivation apot_activation(const StandaloneOptions& o, int act_bits, bool power) {
  auto q = std::make_shared<APoTActivation>(standalone_apot_options(o, act_bits, power));
  return {q, q->levels()};
}

double unit_scale(const WeightLayer& layer) {
  const Tensor& w = layer.weight();
  double fan_in = static_cast<double>(w.numel() / w.size(0));
  return 1.0 / std::sqrt(3.0 * fan_in);
}

std::vector<size_t> one_input(int) { return {1}; }

}  // namespace sl
