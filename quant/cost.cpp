// Weight memory and shift counts per quantizer family (quant/cost.h).
#include "quant/cost.h"

#include <algorithm>
#include <memory>

#include "engine/factory.h"
#include "layers/weight_layer.h"
#include "quant/apot.h"
#include "quant/deepshift.h"
#include "quant/denseshift.h"
#include "quant/s3.h"

namespace sl {

namespace {

// The family's quantizer, built once on a dummy weight: its constructor validates `bits` and its
// bits() is what the family stores per weight.
int family_bits(const std::string& method, int bits) {
  Generator gen(0);
  std::unique_ptr<WeightQuantizer> q;
  if (method == "deepshift-q") {
    q = std::make_unique<DeepShiftQ>(bits, Rounding::deterministic, false);
  } else if (method == "deepshift-ps") {
    q = std::make_unique<DeepShiftPS>(ones({1}), bits, Rounding::deterministic, false);
  } else if (method == "apot" || method == "uniform") {
    APoTOptions o;
    o.bits = bits;
    o.power = method == "apot";
    q = std::make_unique<APoTWeight>(o);
  } else if (method == "s3") {
    Tensor w = zeros({1, 1});
    q = std::make_unique<S3Weight>(w, bits, S3Init::he, gen);
  } else {
    Tensor w = zeros({1});
    q = std::make_unique<DenseShiftWeight>(w, bits, gen);
  }
  return q->bits();
}

void check_method(const std::string& method) {
  const auto& m = quant_methods();
  SL_CHECK(std::find(m.begin(), m.end(), method) != m.end(), "unknown quantization method '{}'; valid: {}", method,
           fmt::join(m, ", "));
}

// Kept file-local: quant/convert.h (another branch) exports sl::default_weight_bits with the same values.
int family_default_bits(const std::string& method) {
  if (method == "none") return 32;
  if (method == "apot" || method == "uniform") return 4;
  if (method == "s3" || method == "denseshift") return 3;
  return 5;
}

}  // namespace

int64_t QuantCost::quantized_weights() const {
  int64_t n = 0;
  for (const auto& l : layers)
    if (l.precision == LayerPrecision::quantized) n += l.weight_numel;
  return n;
}

int64_t QuantCost::layer_count(LayerPrecision p) const {
  return std::count_if(layers.begin(), layers.end(), [p](const LayerCost& l) { return l.precision == p; });
}

const std::vector<std::string>& quant_methods() {
  static const std::vector<std::string> m{"none", "deepshift-q", "deepshift-ps", "apot", "uniform", "s3", "denseshift"};
  return m;
}

std::vector<LayerPrecision> quantized_layer_rule(const std::string& method, size_t n) {
  check_method(method);
  if (method == "none") return std::vector<LayerPrecision>(n, LayerPrecision::fp32);
  std::vector<LayerPrecision> p(n, LayerPrecision::quantized);
  if (method == "deepshift-q" || method == "deepshift-ps" || n == 0) return p;
  // APoT keeps its first conv and last FC at 8 bits (collapse to 10 % otherwise, APoT issue #4);
  // S3 and DenseShift leave the stem conv and the FC in FP32.
  LayerPrecision ends = (method == "apot" || method == "uniform") ? LayerPrecision::eight_bit : LayerPrecision::fp32;
  p.front() = ends;
  p.back() = ends;
  return p;
}

QuantCost quant_cost(Module& model, const Shape& input, const std::string& method, int bits) {
  check_method(method);
  QuantCost c;
  c.method = method;
  c.bits = bits == 0 ? family_default_bits(method) : bits;
  if (method != "none") c.bits = family_bits(method, c.bits);
  if (method == "deepshift-q" || method == "deepshift-ps" || method == "s3" || method == "denseshift") {
    c.shift_terms = 1;
  } else if (method == "apot") {
    // An APoT level is a sum of one term from each of ceil(B / 2) groups of powers of two
    // (B = bits - 1 magnitude bits; quant/levels.cpp apot_groups); the ternary 2-bit case has 1.
    c.shift_terms = (c.bits - 1 + 1) / 2;
  }

  std::vector<LayerMacs> run = layer_macs(model, input);
  std::vector<LayerPrecision> rule = quantized_layer_rule(method, run.size());
  NamedModules modules = model.named_modules();
  int64_t weights_in_layers = 0;
  for (size_t i = 0; i < run.size(); ++i) {
    auto it = std::find_if(modules.begin(), modules.end(), [&](const auto& kv) { return kv.first == run[i].name; });
    const auto* layer = dynamic_cast<const WeightLayer*>(it->second.get());
    LayerCost l;
    l.name = run[i].name;
    l.type = run[i].type;
    l.weight_numel = layer->weight().defined() ? layer->weight().numel() : 0;
    l.macs = run[i].macs;
    l.precision = rule[i];
    l.bits = rule[i] == LayerPrecision::quantized ? c.bits : rule[i] == LayerPrecision::eight_bit ? 8 : 32;
    weights_in_layers += l.weight_numel;
    c.macs += l.macs;
    if (l.precision == LayerPrecision::quantized && c.shift_terms > 0) c.shift_macs += l.macs;
    bool scaled = l.precision == LayerPrecision::eight_bit ||
                  (l.precision == LayerPrecision::quantized && (method == "apot" || method == "uniform"));
    if (scaled) ++c.scales;
    c.memory_bits += l.weight_numel * l.bits;
    c.layers.push_back(l);
  }
  c.parameters = model.parameter_count();
  c.fp32_bits = c.parameters * 32;
  // BN affine parameters, biases and anything else stay FP32; so do the per-layer scales.
  c.memory_bits += (c.parameters - weights_in_layers) * 32 + c.scales * 32;
  return c;
}

}  // namespace sl
