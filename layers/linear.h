// Linear (torch.nn.Linear): y = x W^T + b over the last dimension, with the quantizer hooks of
// WeightLayer. Default init as PyTorch: W ~ kaiming_uniform(a = sqrt(5)) = U(+-1/sqrt(in)),
// b ~ U(+-1/sqrt(in)).
#pragma once
#include "layers/options.h"
#include "layers/weight_layer.h"

namespace sl {

struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  SL_ARG(int64_t, in_features);
  SL_ARG(int64_t, out_features);
  SL_ARG(bool, bias) = true;
};

class Linear : public WeightLayer {
 public:
  explicit Linear(const LinearOptions& options, Generator& gen = default_generator());
  Linear(int64_t in_features, int64_t out_features, bool bias = true)
      : Linear(LinearOptions(in_features, out_features).bias(bias)) {}
  std::string type_name() const override { return "Linear"; }
  Tensor forward(const Tensor& x) override;
  const LinearOptions& options() const { return options_; }
  // PyTorch's reset_parameters(): re-draws weight and bias from their default distributions.
  void reset_parameters(Generator& gen = default_generator());
  int64_t macs(const Shape& input, const Shape& output) const override;

 private:
  LinearOptions options_;
};

}  // namespace sl
