// DeepShift-Q (quant/deepshift.h): the FP32 weight rounded to a signed power of two.
#include "layers/weight_layer.h"
#include "quant/families/common.h"

namespace sl {

QuantFamily deepshift_q_family() {
  QuantFamily f;
  f.name = "deepshift-q";
  f.min_bits = 2;
  f.max_bits = 8;
  f.default_bits = 5;
  f.first_last = "quantize";
  f.power_of_two_levels = true;
  f.shift_terms = [](int) { return 1; };
  f.bench_tag = "pow2w-fx";  // torch_ref.py: power-of-two weights, fixed-point activations
  f.check = [](const QuantConfig& c, int) { check_deepshift_options(c); };
  f.convert = [](const FamilyLayer& l, const QuantConfig& c) {
    FixedPointFormat fmt = fixed_point_format(c);
    l.layer.set_weight_parametrization(std::make_shared<DeepShiftQ>(l.bits, rounding_from_name(c.rounding), l.conv, fmt));
    l.layer.set_input_quantizer(std::make_shared<FixedPointInput>(fmt));
  };
  f.input_counts = one_input;
  f.inputs = "the weight";
  f.standalone = [](const StandaloneOptions& o, const std::vector<Tensor>& in) {
    StandaloneQuantizer s;
    s.q = std::make_unique<DeepShiftQ>(o.bits, rounding_from_name(o.rounding), false);
    if (!in.empty()) s.weight = in[0];
    return s;
  };
  return f;
}

}  // namespace sl
