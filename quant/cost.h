// What a quantizer family makes of a model: the weight memory in bits and how many
// multiply-accumulates become shifts. Used by `shiftlab count`; docs/count.md states the
// conventions. Which layers are quantized is decided by the conversion itself (quant/convert.h:
// --quant-depth, each paper's first/last-layer rule), so count and train always agree.
#pragma once
#include <string>
#include <vector>

#include "layers/flops.h"
#include "quant/convert.h"

namespace sl {

enum class LayerPrecision { fp32, quantized, eight_bit };

struct LayerCost {
  std::string name, type;
  int64_t weight_numel = 0;  // the layer's weight (its bias stays FP32 and is counted with the rest)
  int64_t macs = 0;          // one forward, layers/flops.h
  LayerPrecision precision = LayerPrecision::fp32;
  int bits = 32;  // storage bits per weight element
};

struct QuantCost {
  std::string method;   // "none" or a family
  int bits = 32;        // the family's weight bits (32 for none)
  int shift_terms = 0;  // shifts per multiply in quantized layers (QuantFamily::shift_terms): 1 (pure
                        // shift families), ceil((bits - 1) / 2) (apot), 0 (none, uniform: still multiplies)
  std::vector<LayerCost> layers;
  int64_t parameters = 0;   // every FP32 parameter of the model
  int64_t fp32_bits = 0;    // parameters * 32
  int64_t memory_bits = 0;  // quantized weights * bits + 8-bit weights * 8 + per-layer scales * 32
                            // + every other parameter (BN, biases, FP32 layers) * 32
  int64_t scales = 0;       // per-layer FP32 scales a family adds (APoT's alpha, the 8-bit layers' max)
  int64_t macs = 0;         // all Conv2d / Linear MACs
  int64_t shift_macs = 0;   // MACs of quantized layers whose weights are (sums of) powers of two
  int64_t quantized_weights() const;
  int64_t layer_count(LayerPrecision p) const;
};

// Converts `model` (an FP32 model, modified in place) with `config` and counts. Throws as
// quantize_model does for an unknown method or bits the family refuses.
QuantCost quant_cost(Module& model, const Shape& input, const QuantConfig& config);

}  // namespace sl
