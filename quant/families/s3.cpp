// S3 (quant/s3.h): sign, sparse and shift latents per weight.
#include "engine/factory.h"
#include "layers/weight_layer.h"
#include "quant/families/common.h"
#include "quant/s3.h"

namespace sl {

QuantFamily s3_family() {
  QuantFamily f;
  f.name = "s3";
  f.min_bits = 2;
  f.max_bits = 4;
  f.default_bits = 3;
  f.first_last = "fp32";
  f.power_of_two_levels = true;
  f.shift_terms = [](int) { return 1; };
  f.default_reg_weight = [](double) { return 1e-5; };  // upstream's --rs
  f.bench_tag = "s3";
  f.convert = [](const FamilyLayer& l, const QuantConfig& c) {
    double scale = l.rescale ? unit_scale(l.layer) : 1.0;
    l.layer.set_weight_parametrization(
        std::make_shared<S3Weight>(l.layer.weight(), l.bits, s3_init_from_name(c.s3_init), l.gen, scale));
  };
  // The sign latent (the weight), the sparse gate and 2^(bits-1) - 2 shift gates.
  f.input_counts = [](int bits) { return std::vector<size_t>{static_cast<size_t>(2 + (1 << (bits - 1)) - 2)}; };
  f.inputs = "sign, sparse, shift1.. latents";
  f.standalone = [](const StandaloneOptions& o, const std::vector<Tensor>& in) {
    StandaloneQuantizer s;
    Generator gen(0);
    s.weight = in.empty() ? zeros({1, 1}) : in[0].clone();
    auto s3 = std::make_unique<S3Weight>(s.weight, o.bits, S3Init::he, gen);
    if (!in.empty()) {
      copy_data(s.weight, in[0]);
      copy_data(s3->sparse(), in[1]);
      for (size_t i = 0; i < s3->shifts().size(); ++i) copy_data(s3->shifts()[i], in[i + 2]);
    }
    s.q = std::move(s3);
    return s;
  };
  return f;
}

}  // namespace sl
