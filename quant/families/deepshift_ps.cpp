// DeepShift-PS (quant/deepshift.h): latent shift and sign parameters replace the layer's weight.
#include "engine/factory.h"
#include "layers/weight_layer.h"
#include "quant/families/common.h"

namespace sl {

QuantFamily deepshift_ps_family() {
  QuantFamily f;
  f.name = "deepshift-ps";
  f.min_bits = 2;
  f.max_bits = 8;
  f.default_bits = 5;
  f.first_last = "quantize";
  f.power_of_two_levels = true;
  f.shift_terms = [](int) { return 1; };
  // DeepShift replaces weight decay on the shifts by its 1/2 sum (2^P)^2 penalty, weighted by --wd.
  f.default_reg_weight = [](double weight_decay) { return weight_decay; };
  f.latent_groups = {{"sign", true}, {"shift", false}};
  f.bench_tag = "deepshift-ps";
  f.check = [](const QuantConfig& c, int) { check_deepshift_options(c); };
  f.convert = [](const FamilyLayer& l, const QuantConfig& c) {
    FixedPointFormat fmt = fixed_point_format(c);
    l.layer.set_weight_parametrization(std::make_shared<DeepShiftPS>(l.layer.weight(), l.bits,
                                                                     rounding_from_name(c.rounding), l.conv,
                                                                     c.freeze_sign, fmt));
    l.layer.remove_weight();
    // Upstream's LinearShift rounds neither its input nor its bias; its convs round both.
    if (l.conv) l.layer.set_input_quantizer(std::make_shared<FixedPointInput>(fmt));
  };
  f.input_counts = [](int) { return std::vector<size_t>{1, 2}; };
  f.inputs = "one FP32 weight, or the shift and sign parameters";
  f.standalone = [](const StandaloneOptions& o, const std::vector<Tensor>& in) {
    auto ps = std::make_unique<DeepShiftPS>(in.empty() ? zeros({1}) : in[0], o.bits, rounding_from_name(o.rounding),
                                            false);
    if (in.size() == 2) {  // explicit shift and sign parameters
      copy_data(ps->shift(), in[0]);
      copy_data(ps->sign(), in[1]);
    }
    StandaloneQuantizer s;
    s.q = std::move(ps);
    return s;
  };
  return f;
}

}  // namespace sl
