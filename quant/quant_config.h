// The options of a run's quantization: which family, its bits and the conversion's rules. Filled from
// a RunConfig by train/quant_options.h (quant/ does not know the run config), or by hand by the
// tools that convert a model without training it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sl {

struct QuantConfig {
  std::string method = "none";  // "none" or a family of quant/families.h
  int weight_bits = 0;          // 0 = the family's default
  std::vector<int> act_bits;    // DeepShift: {I, F}; APoT/uniform: {B} (32 = FP32 activations); empty = default
  int64_t depth = -1;           // layers to convert (-1 = all)
  std::string order = "last";   // "last": the last `depth` convs in definition order, as DeepShift's code; "first"
  std::string first_last = "auto";  // auto (the family's rule) | quantize | fp32 | 8bit
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

}  // namespace sl
