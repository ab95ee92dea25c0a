#include "quant/convert.h"

#include <algorithm>
#include <cmath>

#include "layers/conv2d.h"
#include "layers/linear.h"
#include "quant/apot.h"
#include "quant/deepshift.h"
#include "quant/denseshift.h"
#include "quant/s3.h"

namespace sl {

QuantConfig quant_config(const RunConfig& r) {
  QuantConfig q;
  q.method = r.quant;
  q.weight_bits = r.weight_bits;
  q.act_bits = r.act_bits;
  q.depth = r.quant_depth;
  q.order = r.quant_order;
  q.first_last = r.first_last;
  q.scale = r.quant_scale;
  q.rounding = r.rounding;
  q.apot_flavour = r.apot_flavour;
  q.s3_init = r.s3_init;
  q.freeze_sign = r.lr_sign == 0;
  return q;
}

int default_weight_bits(const std::string& method) {
  if (method == "apot" || method == "uniform") return 4;
  if (method == "s3" || method == "denseshift") return 3;
  return 5;
}

std::string ConversionReport::summary() const {
  if (quantized == 0 && std::none_of(layers.begin(), layers.end(), [](const LayerPlan& l) { return l.what == "8-bit"; }))
    return "none (FP32)";
  std::vector<std::string> names;
  std::string what;
  for (const LayerPlan& l : layers) {
    if (l.what == "fp32" || l.what == "8-bit") continue;
    names.push_back(l.name);
    what = l.what;
  }
  std::string out = fmt::format("{} on {} of {} layers ({})", what.empty() ? "none" : what, quantized, layers.size(),
                                fmt::join(names, ", "));
  for (const LayerPlan& l : layers)
    if (l.what == "fp32" || l.what == "8-bit") out += fmt::format("; {} {}", l.name, l.what);
  return out;
}

namespace {

struct Found {
  std::string name;
  std::shared_ptr<WeightLayer> layer;
  bool conv;
};

std::vector<Found> weight_layers(Module& model) {
  std::vector<Found> out;
  for (auto& [name, m] : model.named_modules()) {
    if (auto conv = std::dynamic_pointer_cast<Conv2d>(m)) out.push_back({name, conv, true});
    else if (auto lin = std::dynamic_pointer_cast<Linear>(m)) out.push_back({name, lin, false});
  }
  return out;
}

// Which layers --quant-depth selects. DeepShift's convert_to_shift walks modules in reverse
// definition order converting Conv2d until `depth` are done, and converts every Linear (when the
// model has convs; a conv-free model counts its Linear layers instead).
std::vector<bool> depth_selection(const std::vector<Found>& layers, int64_t depth, const std::string& order) {
  std::vector<bool> pick(layers.size(), depth < 0);
  if (depth < 0) return pick;
  bool has_conv = std::any_of(layers.begin(), layers.end(), [](const Found& f) { return f.conv; });
  int64_t count = 0;
  auto visit = [&](size_t i) {
    bool counted = layers[i].conv || !has_conv;
    if (!counted) {
      pick[i] = true;
    } else if (count < depth) {
      pick[i] = true;
      ++count;
    }
  };
  if (order == "last") {
    for (size_t i = layers.size(); i-- > 0;) visit(i);
  } else {
    for (size_t i = 0; i < layers.size(); ++i) visit(i);
  }
  return pick;
}

// What the first conv / last FC get under `auto`: DeepShift converts them, APoT keeps 8 bits, S3
// and DenseShift keep FP32.
std::string first_last_rule(const QuantConfig& c) {
  if (c.first_last != "auto") return c.first_last;
  if (c.method == "apot" || c.method == "uniform") return "8bit";
  if (c.method == "s3" || c.method == "denseshift") return "fp32";
  return "quantize";
}

FixedPointFormat fixed_point(const QuantConfig& c) {
  if (c.act_bits.empty()) return {16, 16};
  SL_CHECK(c.act_bits.size() == 2, "act_bits for {} takes two numbers, integer and fraction bits (e.g. 16 16), got {}",
           c.method, c.act_bits.size());
  return {c.act_bits[0], c.act_bits[1]};
}

int apot_act_bits(const QuantConfig& c, int weight_bits) {
  // APoT trains W = A bits; its activation level sets stop at 6 bits.
  if (c.act_bits.empty()) return c.method == "apot" ? std::min(weight_bits, 6) : weight_bits;
  SL_CHECK(c.act_bits.size() == 1, "act_bits for {} takes one number (32 = FP32 activations), got {}", c.method,
           c.act_bits.size());
  return c.act_bits[0];
}

void check_config(const QuantConfig& c, int bits) {
  static const char* kMethods[] = {"none", "deepshift-q", "deepshift-ps", "apot", "uniform", "s3", "denseshift"};
  SL_CHECK(std::find(std::begin(kMethods), std::end(kMethods), c.method) != std::end(kMethods),
           "unknown quant method '{}' (none, deepshift-q, deepshift-ps, apot, uniform, s3, denseshift)", c.method);
  SL_CHECK(c.depth >= -1, "quant_depth must be >= 0 (or -1 for all layers), got {}", c.depth);
  SL_CHECK(c.order == "last" || c.order == "first", "quant_order must be last or first, got '{}'", c.order);
  SL_CHECK(c.scale == "auto" || c.scale == "on" || c.scale == "off", "quant_scale must be auto, on or off, got '{}'", c.scale);
  SL_CHECK(c.first_last == "auto" || c.first_last == "quantize" || c.first_last == "fp32" || c.first_last == "8bit",
           "first_last must be auto, quantize, fp32 or 8bit, got '{}'", c.first_last);
  if (c.method == "deepshift-q") deepshift_q_min_shift(bits);
  if (c.method == "deepshift-ps") deepshift_ps_min_shift(bits);
  if (c.method == "deepshift-q" || c.method == "deepshift-ps") fixed_point(c);
  if (c.method == "s3" || c.method == "denseshift")
    SL_CHECK(bits >= 2 && bits <= 4, "{}: weight bits must be in [2, 4], got {}", c.method, bits);
  if (c.method == "apot" || c.method == "uniform") {
    SL_CHECK(bits >= 2 && bits <= (c.method == "apot" ? 7 : 8), "{}: weight bits must be in [2, {}], got {}", c.method,
             c.method == "apot" ? 7 : 8, bits);
    int ab = apot_act_bits(c, bits);
    SL_CHECK(ab == 32 || (ab >= 2 && ab <= (c.method == "apot" ? 6 : 8)),
             "{}: activation bits must be in [2, {}] or 32 (FP32), got {}", c.method, c.method == "apot" ? 6 : 8, ab);
  }
}

// 1/sqrt(3 fan_in): the std of PyTorch's default init U(+-1/sqrt(fan_in)).
double unit_scale(const WeightLayer& layer) {
  const Tensor& w = layer.weight();
  double fan_in = static_cast<double>(w.numel() / w.size(0));
  return 1.0 / std::sqrt(3.0 * fan_in);
}

void convert_layer(const Found& f, const QuantConfig& c, int bits, bool rescale, Generator& gen) {
  WeightLayer& layer = *f.layer;
  if (c.method == "deepshift-q") {
    FixedPointFormat fmt = fixed_point(c);
    layer.set_weight_parametrization(std::make_shared<DeepShiftQ>(bits, rounding_from_name(c.rounding), f.conv, fmt));
    layer.set_input_quantizer(std::make_shared<FixedPointInput>(fmt));
  } else if (c.method == "deepshift-ps") {
    FixedPointFormat fmt = fixed_point(c);
    layer.set_weight_parametrization(std::make_shared<DeepShiftPS>(layer.weight(), bits, rounding_from_name(c.rounding),
                                                                   f.conv, c.freeze_sign, fmt));
    layer.remove_weight();
    // Upstream's LinearShift rounds neither its input nor its bias; its convs round both.
    if (f.conv) layer.set_input_quantizer(std::make_shared<FixedPointInput>(fmt));
  } else if (c.method == "apot" || c.method == "uniform") {
    APoTOptions o;
    o.bits = bits;
    o.power = c.method == "apot";
    o.flavour = apot_flavour_from_name(c.apot_flavour);
    o.alpha = 3.0;
    o.rescale = rescale;
    layer.set_weight_parametrization(std::make_shared<APoTWeight>(o));
    int ab = apot_act_bits(c, bits);
    if (ab != 32) {
      APoTOptions a = o;
      a.bits = ab;
      a.alpha = o.flavour == APoTFlavour::imagenet ? 6.0 : 8.0;
      layer.set_input_quantizer(std::make_shared<APoTActivation>(a));
    }
  } else if (c.method == "s3") {
    double scale = rescale ? unit_scale(layer) : 1.0;
    layer.set_weight_parametrization(
        std::make_shared<S3Weight>(layer.weight(), bits, s3_init_from_name(c.s3_init), gen, scale));
  } else if (c.method == "denseshift") {
    // At initialisation each gate is open with probability 1/2: P(p = j) = 2^-(j+1) for j < K and
    // 2^-K for p = K, so E[W^2] = sum P(p) 4^p grows fast with the bits (11.5 at 3 bits, 190 at 4);
    // the scale divides it out so the layer starts at the variance of PyTorch's default init.
    double scale = 1.0;
    if (rescale) {
      int gates = (1 << (bits - 1)) - 1;
      double second_moment = std::ldexp(1.0, gates);  // p = K: 2^-K * 4^K
      for (int j = 0; j < gates; ++j) second_moment += std::ldexp(1.0, j - 1);  // 2^-(j+1) * 4^j
      scale = unit_scale(layer) / std::sqrt(second_moment);
    }
    layer.set_weight_parametrization(std::make_shared<DenseShiftWeight>(layer.weight(), bits, gen, 1e-3, scale));
  }
}

}  // namespace

ConversionReport quantize_model(Module& model, const QuantConfig& c, Generator& gen) {
  int bits = c.weight_bits > 0 ? c.weight_bits : default_weight_bits(c.method);
  check_config(c, bits);
  std::vector<Found> layers = weight_layers(model);
  ConversionReport report;
  for (const Found& f : layers) report.layers.push_back({f.name, f.conv ? "Conv2d" : "Linear", "fp32"});
  if (c.method == "none") return report;
  SL_CHECK(!layers.empty(), "quant {}: the model has no Conv2d or Linear layer to quantize", c.method);
  for (const Found& f : layers)
    SL_CHECK(!f.layer->weight_parametrization(), "quant: layer '{}' is already quantized", f.name);
  std::vector<bool> pick = depth_selection(layers, c.depth, c.order);
  bool has_bn = false;
  for (auto& [name, m] : model.named_modules()) has_bn = has_bn || m->type_name().rfind("BatchNorm", 0) == 0;
  bool rescale = c.scale == "on" || (c.scale == "auto" && !has_bn);
  std::string edge = first_last_rule(c);
  std::string what = fmt::format("{} {}-bit", c.method, bits);
  for (size_t i = 0; i < layers.size(); ++i) {
    bool is_edge = i == 0 || i + 1 == layers.size();
    if (is_edge && edge != "quantize") {
      if (edge == "8bit") {
        layers[i].layer->set_weight_parametrization(std::make_shared<APoTFirstLast>());
        report.layers[i].what = "8-bit";
      }
      continue;
    }
    if (!pick[i]) continue;
    convert_layer(layers[i], c, bits, rescale, gen);
    report.layers[i].what = what;
    ++report.quantized;
  }
  return report;
}

Tensor quantizer_regularization(const Module& model) {
  Tensor total;
  for (auto& [name, m] : model.named_modules()) {
    auto q = std::dynamic_pointer_cast<WeightQuantizer>(m);
    if (!q) continue;
    Tensor r = q->regularization();
    if (r.defined()) total = total.defined() ? add(total, r) : r;
  }
  return total;
}

}  // namespace sl
