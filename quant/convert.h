// Turns an FP32 model into a shift network in place: picks which Conv2d/Linear layers to quantize
// (DeepShift's --shift-depth counting, each paper's first/last-layer rule) and attaches the family's
// weight parametrization and input quantizer to each (DESIGN.md: the layer stays the ordinary
// layer). Latents are initialised from the layer's current FP32 weight where the family does that
// (DeepShift-PS), so converting after loading FP32 weights is DeepShift's train-from-pretrained.
#pragma once
#include <string>
#include <vector>

#include "engine/rng.h"
#include "layers/module.h"
#include "quant/quant_config.h"

namespace sl {

struct LayerPlan {
  std::string name;  // dotted module name
  std::string kind;  // "Conv2d" | "Linear"
  std::string what;  // "deepshift-ps 5-bit", "8-bit", "fp32"
};

struct ConversionReport {
  std::vector<LayerPlan> layers;  // every Conv2d/Linear in definition order
  int64_t quantized = 0;
  std::string summary() const;    // "deepshift-ps 5-bit on 4 of 4 layers (conv1, conv2, fc1, fc2)"
};

// Validates the options (bits for the family, depth >= -1, ...) and converts; throws sl::Error
// naming the option. `gen` draws the random latents of S3 and DenseShift.
ConversionReport quantize_model(Module& model, const QuantConfig& config, Generator& gen);

// The total regulariser of every quantized layer (DeepShift-PS: 1/2 sum (2^P)^2, S3: sum max(-sparse,
// 0)), unscaled; undefined when there is none.
Tensor quantizer_regularization(const Module& model);

}  // namespace sl
