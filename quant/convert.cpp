#include "quant/convert.h"

#include <algorithm>
#include <cmath>

#include "layers/conv2d.h"
#include "layers/linear.h"
#include "quant/apot.h"
#include "quant/families.h"

namespace sl {

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

// What the first conv / last FC get: under `auto` the family's rule (DeepShift converts them, APoT
// keeps 8 bits, S3 and DenseShift keep FP32).
std::string first_last_rule(const QuantConfig& c, const QuantFamily& family) {
  return c.first_last == "auto" ? family.first_last : c.first_last;
}

void check_config(const QuantConfig& c, const QuantFamily* family, int bits) {
  SL_CHECK(c.depth >= -1, "quant_depth must be >= 0 (or -1 for all layers), got {}", c.depth);
  SL_CHECK(c.order == "last" || c.order == "first", "quant_order must be last or first, got '{}'", c.order);
  SL_CHECK(c.scale == "auto" || c.scale == "on" || c.scale == "off", "quant_scale must be auto, on or off, got '{}'", c.scale);
  SL_CHECK(c.first_last == "auto" || c.first_last == "quantize" || c.first_last == "fp32" || c.first_last == "8bit",
           "first_last must be auto, quantize, fp32 or 8bit, got '{}'", c.first_last);
  if (!family) return;
  SL_CHECK(bits >= family->min_bits && bits <= family->max_bits, "{}: weight bits must be in [{}, {}], got {}",
           family->name, family->min_bits, family->max_bits, bits);
  if (family->check) family->check(c, bits);
}

}  // namespace

ConversionReport quantize_model(Module& model, const QuantConfig& c, Generator& gen) {
  const QuantFamily* family = c.method == "none" ? nullptr : &quant_family(c.method);  // throws listing the names
  int bits = family ? (c.weight_bits > 0 ? c.weight_bits : family->default_bits) : 0;
  check_config(c, family, bits);
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
  std::string edge = first_last_rule(c, *family);
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
    family->convert({*layers[i].layer, layers[i].conv, bits, rescale, gen}, c);
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
