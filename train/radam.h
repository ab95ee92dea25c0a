// RAdam and Ranger as DeepShift's pytorch/optim/radam.py and ranger.py (Ranger 9.3.19 = RAdam +
// Lookahead), which the DeepShift-PS recipe uses. Per step t of a parameter:
//   v = b2 v + (1 - b2) g^2;  m = b1 m + (1 - b1) g
//   rho_inf = 2 / (1 - b2) - 1;  rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
//   rectified (RAdam: rho_t >= 5; Ranger: rho_t > n_sma_threshold):
//     step = sqrt((1 - b2^t) (rho_t - 4) / (rho_inf - 4) (rho_t - 2) / rho_t rho_inf / (rho_inf - 2)) / (1 - b1^t)
//   otherwise step = 1 / (1 - b1^t)
//   p -= wd * lr * p                     (decoupled, before the update; only when wd != 0)
//   rectified: p -= step * lr * m / (sqrt(v) + eps);   otherwise p -= step * lr * m
//   Ranger, when t % k == 0: slow += alpha (p - slow); p = slow   (slow starts as p before step 1)
// Differences from torch.optim.RAdam (1.13): torch applies weight decay as coupled L2 (g += wd p),
// rectifies when rho_t > 5, and divides by sqrt(v / (1 - b2^t)) + eps with the bias correction inside
// the denominator; DeepShift folds sqrt(1 - b2^t) into the step size, so eps acts at a different scale.
// Per-parameter state: step, exp_avg, exp_avg_sq (+ slow_buffer for Ranger).
#pragma once
#include "train/optimizer.h"

namespace sl {

class RAdam : public Optimizer {
 public:
  explicit RAdam(std::vector<ParamGroup> groups) : RAdam(std::move(groups), false) {}
  RAdam(const NamedTensors& params, const OptimizerOptions& options) : RAdam({ParamGroup{params, options}}) {}
  std::string type_name() const override { return lookahead_ ? "Ranger" : "RAdam"; }

 protected:
  RAdam(std::vector<ParamGroup> groups, bool lookahead);
  void check_options(const OptimizerOptions& o, size_t group) const override;
  std::vector<std::string> state_keys(const OptimizerOptions& o) const override;
  void update(const std::string& name, Tensor& param, const Tensor& grad, const OptimizerOptions& o) override;

 private:
  bool lookahead_;
};

// Defaults (OptimizerOptions::ranger()): lr 1e-3, alpha 0.5, k 6, n_sma_threshold 5,
// betas (0.95, 0.999), eps 1e-5, weight_decay 0.
class Ranger : public RAdam {
 public:
  explicit Ranger(std::vector<ParamGroup> groups) : RAdam(std::move(groups), true) {}
  Ranger(const NamedTensors& params, const OptimizerOptions& options) : Ranger({ParamGroup{params, options}}) {}
};

}  // namespace sl
