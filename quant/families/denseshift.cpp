// DenseShift (quant/denseshift.h): zero-free shift weights from a sign latent and exponent gates.
#include <cmath>

#include "engine/factory.h"
#include "layers/weight_layer.h"
#include "quant/denseshift.h"
#include "quant/families/common.h"

namespace sl {

QuantFamily denseshift_family() {
  QuantFamily f;
  f.name = "denseshift";
  f.min_bits = 2;
  f.max_bits = 4;
  f.default_bits = 3;
  f.first_last = "fp32";
  f.power_of_two_levels = true;
  f.shift_terms = [](int) { return 1; };
  f.bench_tag = "denseshift";
  f.convert = [](const FamilyLayer& l, const QuantConfig&) {
    // At initialisation each gate is open with probability 1/2: P(p = j) = 2^-(j+1) for j < K and
    // 2^-K for p = K, so E[W^2] = sum P(p) 4^p grows fast with the bits (11.5 at 3 bits, 190 at 4);
    // the scale divides it out so the layer starts at the variance of PyTorch's default init.
    double scale = 1.0;
    if (l.rescale) {
      int gates = (1 << (l.bits - 1)) - 1;
      double second_moment = std::ldexp(1.0, gates);                            // p = K: 2^-K * 4^K
      for (int j = 0; j < gates; ++j) second_moment += std::ldexp(1.0, j - 1);  // 2^-(j+1) * 4^j
      scale = unit_scale(l.layer) / std::sqrt(second_moment);
    }
    l.layer.set_weight_parametrization(std::make_shared<DenseShiftWeight>(l.layer.weight(), l.bits, l.gen, 1e-3, scale));
  };
  // The sign latent (the weight) and 2^(bits-1) - 1 gates.
  f.input_counts = [](int bits) { return std::vector<size_t>{static_cast<size_t>(1 + (1 << (bits - 1)) - 1)}; };
  f.inputs = "sign, gate1.. latents";
  f.standalone = [](const StandaloneOptions& o, const std::vector<Tensor>& in) {
    StandaloneQuantizer s;
    Generator gen(0);
    s.weight = in.empty() ? zeros({1}) : in[0].clone();
    auto ds = std::make_unique<DenseShiftWeight>(s.weight, o.bits, gen);
    if (!in.empty()) {
      copy_data(s.weight, in[0]);
      for (size_t i = 0; i < ds->gates().size(); ++i) copy_data(ds->gates()[i], in[i + 1]);
    }
    s.q = std::move(ds);
    return s;
  };
  return f;
}

}  // namespace sl
