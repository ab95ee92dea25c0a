// Linear: the product of WeightLayer's effective input and weight.
#include "layers/linear.h"

#include <cmath>

#include "engine/factory.h"
#include "layers/init.h"

namespace sl {

Linear::Linear(const LinearOptions& options, Generator& gen) : options_(options) {
  SL_CHECK(options.in_features() > 0, "Linear: in_features must be positive, got {}", options.in_features());
  SL_CHECK(options.out_features() > 0, "Linear: out_features must be positive, got {}", options.out_features());
  init_weight(Tensor::empty({options.out_features(), options.in_features()}));
  if (options.bias()) init_bias(Tensor::empty({options.out_features()}));
  reset_parameters(gen);
}

void Linear::reset_parameters(Generator& gen) {
  if (!weight().defined()) return;
  Tensor w = weight();
  init::kaiming_uniform_(w, std::sqrt(5.0), init::FanMode::fan_in, "leaky_relu", gen);
  if (has_bias()) {
    Tensor b = bias();
    double bound = 1.0 / std::sqrt(static_cast<double>(options_.in_features()));
    init::uniform_(b, -bound, bound, gen);
  }
}

Tensor Linear::forward(const Tensor& x) {
  SL_CHECK(x.dim() >= 1 && x.size(-1) == options_.in_features(),
           "Linear({}, {}): input of shape {} does not end in {} features", options_.in_features(),
           options_.out_features(), shape_str(x.shape()), options_.in_features());
  Tensor y = linear(quantize_input(x), effective_weight(), effective_bias());
  record_forward(x.shape(), y.shape());
  return y;
}

int64_t Linear::macs(const Shape& input, const Shape& output) const {
  (void)output;
  return shape_numel(input) / options_.in_features() * options_.in_features() * options_.out_features();
}

}  // namespace sl
