// APoT (quant/apot.h): additive powers-of-two levels times a learned clipping threshold.
#include "quant/families/common.h"

namespace sl {

QuantFamily apot_family() {
  QuantFamily f;
  f.name = "apot";
  f.min_bits = 2;
  f.max_bits = 7;  // B = bits - 1 <= 6: the largest additive level set
  f.default_bits = 4;
  f.first_last = "8bit";
  f.layer_scale = true;
  // A level is a sum of one term from each of ceil(B / 2) groups of powers of two (B = bits - 1;
  // quant/levels.cpp apot_groups); the ternary 2-bit case has 1.
  f.shift_terms = [](int bits) { return (bits - 1 + 1) / 2; };
  f.bench_tag = "apot";
  f.check = [](const QuantConfig& c, int bits) { check_apot_options(c, bits, true); };
  f.convert = [](const FamilyLayer& l, const QuantConfig& c) { attach_apot(l, c, true); };
  f.input_counts = one_input;
  f.inputs = "the weight";
  f.standalone = [](const StandaloneOptions& o, const std::vector<Tensor>& in) { return apot_standalone(o, in, true); };
  f.activation = [](const StandaloneOptions& o, int bits) { return apot_activation(o, bits, true); };
  return f;
}

}  // namespace sl
