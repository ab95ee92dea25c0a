// Uniform (quant/apot.h with power off): APoT's uniform baseline, evenly spaced levels.
#include "quant/families/common.h"

namespace sl {

QuantFamily uniform_family() {
  QuantFamily f;
  f.name = "uniform";
  f.min_bits = 2;
  f.max_bits = 8;
  f.default_bits = 4;
  f.first_last = "8bit";
  f.layer_scale = true;
  f.shift_terms = [](int) { return 0; };  // its levels are not powers of two: still multiplies
  f.bench_tag = "uniform";
  f.check = [](const QuantConfig& c, int bits) { check_apot_options(c, bits, false); };
  f.convert = [](const FamilyLayer& l, const QuantConfig& c) { attach_apot(l, c, false); };
  f.input_counts = one_input;
  f.inputs = "the weight";
  f.standalone = [](const StandaloneOptions& o, const std::vector<Tensor>& in) { return apot_standalone(o, in, false); };
  f.activation = [](const StandaloneOptions& o, int bits) { return apot_activation(o, bits, false); };
  return f;
}

}  // namespace sl
