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
#include "train/run_config.h"

namespace sl {

struct QuantConfig {
  std::string method = "none";  // none | deepshift-q | deepshift-ps | apot | uniform | s3 | denseshift
  int weight_bits = 0;          // 0 = the family's default
  std::vector<int> act_bits;    // DeepShift: {I, F}; APoT/uniform: {B} (32 = FP32 activations); empty = default
  int64_t depth = -1;           // layers to convert (-1 = all)
  std::string order = "last";   // "last": the last `depth` convs in definition order, as DeepShift's code; "first"
  std::string first_last = "auto";  // auto | quantize | fp32 | 8bit
  // APoT, S3 and DenseShift assume a BatchNorm after each quantized layer to absorb the scale of
  // their levels (alpha, or +-1..+-8). "auto" adds a constant per-layer scale when the model has no
  // BatchNorm at all (DeepShift's MNIST nets): APoT keeps the weight's std, S3 uses 1/sqrt(3 fan_in)
  // (PyTorch's default-init std for a +-1 weight), DenseShift that divided by the RMS of its initial
  // levels. "on" / "off" force it.
  std::string scale = "auto";
  std::string rounding = "deterministic";
  std::string apot_flavour = "imagenet";
  std::string s3_init = "dense";
  bool freeze_sign = false;     // DeepShift-PS: signs not trained (--lr-sign 0)
};

QuantConfig quant_config(const RunConfig& run);
// The family's default weight bits: DeepShift 5, APoT/uniform 4, S3/DenseShift 3.
int default_weight_bits(const std::string& method);

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
