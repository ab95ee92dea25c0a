// SGD exactly as torch.optim.SGD (1.13): coupled L2 weight decay d = g + wd * p; momentum buffer
// b = d on the first step, then b = mu * b + (1 - dampening) * d; nesterov d = d + mu * b, else d = b;
// p = p - lr * d. Per-parameter state: momentum_buffer (only when momentum != 0).
#pragma once
#include "train/optimizer.h"

namespace sl {

class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<ParamGroup> groups);
  SGD(const NamedTensors& params, const OptimizerOptions& options) : SGD({ParamGroup{params, options}}) {}
  std::string type_name() const override { return "SGD"; }

 protected:
  void check_options(const OptimizerOptions& o, size_t group) const override;
  std::vector<std::string> state_keys(const OptimizerOptions&) const override { return {"momentum_buffer"}; }
  void update(const std::string& name, Tensor& param, const Tensor& grad, const OptimizerOptions& o) override;
};

}  // namespace sl
