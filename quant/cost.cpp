// Weight memory and shift counts per quantizer family (quant/cost.h).
#include "quant/cost.h"

#include <algorithm>
#include <map>
#include <memory>

#include "engine/factory.h"
#include "layers/weight_layer.h"
#include "quant/families.h"

namespace sl {

int64_t QuantCost::quantized_weights() const {
  int64_t n = 0;
  for (const auto& l : layers)
    if (l.precision == LayerPrecision::quantized) n += l.weight_numel;
  return n;
}

int64_t QuantCost::layer_count(LayerPrecision p) const {
  return std::count_if(layers.begin(), layers.end(), [p](const LayerCost& l) { return l.precision == p; });
}

QuantCost quant_cost(Module& model, const Shape& input, const QuantConfig& config) {
  const std::string& method = config.method;
  QuantCost c;
  c.method = method;
  const QuantFamily* family = method == "none" ? nullptr : &quant_family(method);  // throws listing the names
  c.bits = !family ? 32 : config.weight_bits > 0 ? config.weight_bits : family->default_bits;
  c.shift_terms = family ? family->shift_terms(c.bits) : 0;

  // The FP32 model's MACs and weight sizes, then the real conversion decides each layer's precision
  // (so --quant-depth and --first-last count exactly as training would convert).
  std::vector<LayerMacs> run = layer_macs(model, input);
  std::map<std::string, int64_t> numel;
  for (auto& [name, m] : model.named_modules())
    if (auto* layer = dynamic_cast<const WeightLayer*>(m.get())) numel[name] = layer->weight().numel();
  int64_t fp32_parameters = model.parameter_count();
  Generator gen(0);
  ConversionReport plan = quantize_model(model, config, gen);
  std::map<std::string, std::string> what;
  for (const LayerPlan& p : plan.layers) what[p.name] = p.what;
  int64_t weights_in_layers = 0;
  for (size_t i = 0; i < run.size(); ++i) {
    LayerCost l;
    l.name = run[i].name;
    l.type = run[i].type;
    l.weight_numel = numel.at(l.name);
    l.macs = run[i].macs;
    const std::string& w = what.at(l.name);
    l.precision = w == "fp32" ? LayerPrecision::fp32 : w == "8-bit" ? LayerPrecision::eight_bit : LayerPrecision::quantized;
    l.bits = l.precision == LayerPrecision::quantized ? c.bits : l.precision == LayerPrecision::eight_bit ? 8 : 32;
    weights_in_layers += l.weight_numel;
    c.macs += l.macs;
    if (l.precision == LayerPrecision::quantized && c.shift_terms > 0) c.shift_macs += l.macs;
    bool scaled = l.precision == LayerPrecision::eight_bit ||
                  (l.precision == LayerPrecision::quantized && family->layer_scale);
    if (scaled) ++c.scales;
    c.memory_bits += l.weight_numel * l.bits;
    c.layers.push_back(l);
  }
  c.parameters = fp32_parameters;
  c.fp32_bits = c.parameters * 32;
  // BN affine parameters, biases and anything else stay FP32; so do the per-layer scales.
  c.memory_bits += (c.parameters - weights_in_layers) * 32 + c.scales * 32;
  return c;
}

}  // namespace sl
