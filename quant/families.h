// The quantizer families, one entry each: everything the rest of the code needs to know about a
// family (its bits, its first/last-layer rule, how it converts a layer, its level set and codes
// through the WeightQuantizer it builds, what `count` counts, its regulariser and parameter groups,
// what `shiftlab quantize` reads). Conversion, `count`, `quantize`, `inspect`, statistics, the
// trainer's setup and the CLI's choices all read these entries; none names a family.
//
// Adding a family: its WeightQuantizer (quant/<family>.h/.cpp), one file quant/families/<family>.cpp
// returning its entry, and one line in the table of quant/families.cpp (docs/ARCHITECTURE.md).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "quant/quant_config.h"
#include "quant/quantizer.h"

namespace sl {

class WeightLayer;

// One Conv2d/Linear layer the conversion hands to a family.
struct FamilyLayer {
  WeightLayer& layer;
  bool conv;     // a Conv2d (else a Linear): DeepShift rounds a conv's bias and input, not a Linear's
  int bits;      // the weight bits, already checked against the family's range
  bool rescale;  // no BatchNorm absorbs the levels' scale (QuantConfig::scale)
  Generator& gen;  // random latents (S3, DenseShift)
};

// `shiftlab quantize`: a quantizer on its own, its latents read from .npy files.
struct StandaloneOptions {
  int bits = 0;
  std::string rounding = "deterministic";
  double alpha = 3.0;  // APoT's clipping threshold
  std::string flavour = "imagenet";
};
struct StandaloneQuantizer {
  std::unique_ptr<WeightQuantizer> q;
  Tensor weight;  // the layer weight it reads (undefined when it has its own latents only)
};
struct StandaloneActivation {
  std::shared_ptr<InputQuantizer> q;
  std::vector<double> levels;  // in units of alpha, ascending
};

// Latent parameters trained in an optimizer group of their own, without weight decay.
struct LatentGroup {
  std::string suffix;  // parameter names ending in ".<suffix>"
  bool lr_sign;        // at --lr-sign (else at --lr)
};

struct QuantFamily {
  std::string name;  // the --quant value, and WeightQuantizer::method() of its quantizer
  int min_bits = 2, max_bits = 8, default_bits = 4;
  // The first conv and last FC under --first-last auto (each paper's rule): quantize | fp32 | 8bit.
  std::string first_last = "quantize";
  bool power_of_two_levels = false;  // every level is a signed power of two: inspect and stats show exponents
  bool layer_scale = false;          // a quantized layer stores one FP32 scale (APoT's alpha): `count` counts it
  std::function<int(int bits)> shift_terms;  // shifts per multiply of a quantized layer (`count`); 0 = multiplies
  // The regulariser's weight when --reg is -1, from --weight-decay; null: the family has no regulariser.
  std::function<double(double weight_decay)> default_reg_weight;
  std::vector<LatentGroup> latent_groups;  // in the order the optimizer's groups are saved
  std::string bench_tag;  // the family's part of ../bench/torch_ref.py's benchmark ids
  // Checks the options the family reads besides the bits (activation bits, ...); null: none.
  std::function<void(const QuantConfig&, int bits)> check;
  // Attaches the family's weight parametrization (and input quantizer) to one layer.
  std::function<void(const FamilyLayer&, const QuantConfig&)> convert;
  // `shiftlab quantize`: how many --in files it takes at these bits, what they hold, and the
  // quantizer built from them (no files: its level set only).
  std::function<std::vector<size_t>(int bits)> input_counts;
  std::string inputs;
  std::function<StandaloneQuantizer(const StandaloneOptions&, const std::vector<Tensor>& in)> standalone;
  // Its activation quantizer at `act_bits` (quantize --act-bits); null: the family has none.
  std::function<StandaloneActivation(const StandaloneOptions&, int act_bits)> activation;
};

// Every family, in the order the CLI lists them.
const std::vector<QuantFamily>& quant_families();
// The family called `name`, or null ("none" is no family).
const QuantFamily* find_quant_family(const std::string& name);
// The family called `name`; throws "unknown quant method 'x' (none, deepshift-q, ...)".
const QuantFamily& quant_family(const std::string& name);
// "none" and every family's name: the choices of --quant.
const std::vector<std::string>& quant_method_names();
// "none, deepshift-q, deepshift-ps, ..." and "deepshift-q 5, apot 4, ..." for help texts.
std::string quant_method_list();
std::string default_bits_list();

}  // namespace sl
