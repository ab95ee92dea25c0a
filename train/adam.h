// Adam and AdamW exactly as torch.optim.Adam / AdamW (1.13, single-tensor path):
//   Adam:  g += wd * p (coupled L2);   AdamW: p *= 1 - lr * wd (decoupled, before the moments)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (amsgrad: vmax = max(vmax, v), used below)
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)        (eps outside the sqrt)
// Per-parameter state: step, exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad).
#pragma once
#include "train/optimizer.h"

namespace sl {

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<ParamGroup> groups) : Adam(std::move(groups), false) {}
  Adam(const NamedTensors& params, const OptimizerOptions& options) : Adam({ParamGroup{params, options}}) {}
  std::string type_name() const override { return decoupled_ ? "AdamW" : "Adam"; }

 protected:
  Adam(std::vector<ParamGroup> groups, bool decoupled);
  void check_options(const OptimizerOptions& o, size_t group) const override;
  std::vector<std::string> state_keys(const OptimizerOptions& o) const override;
  void update(const std::string& name, Tensor& param, const Tensor& grad, const OptimizerOptions& o) override;

 private:
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<ParamGroup> groups) : Adam(std::move(groups), true) {}
  AdamW(const NamedTensors& params, const OptimizerOptions& options) : AdamW({ParamGroup{params, options}}) {}
};

}  // namespace sl
