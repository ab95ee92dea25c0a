// Adam / AdamW: torch 1.13's _single_tensor_adam(w) in the parameter's dtype; bias corrections and
// the step size are computed in double, as the Python code does, then cast.
#include "train/adam.h"

#include <cmath>

#include "train/optim_detail.h"

namespace sl {

Adam::Adam(std::vector<ParamGroup> groups, bool decoupled)
    : Optimizer(std::move(groups), decoupled ? "AdamW" : "Adam"), decoupled_(decoupled) {
  check_all_options();
}

void Adam::check_options(const OptimizerOptions& o, size_t g) const {
  SL_CHECK(o.beta1() >= 0 && o.beta1() < 1 && o.beta2() >= 0 && o.beta2() < 1,
           "{}: betas must be in [0, 1), got ({}, {}) (group {})", type_name(), o.beta1(), o.beta2(), g);
  SL_CHECK(o.eps() >= 0, "{}: eps must be >= 0, got {} (group {})", type_name(), o.eps(), g);
}

std::vector<std::string> Adam::state_keys(const OptimizerOptions& o) const {
  if (o.amsgrad()) return {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"step", "exp_avg", "exp_avg_sq"};
}

void Adam::update(const std::string& name, Tensor& param, const Tensor& grad, const OptimizerOptions& o) {
  const double step = static_cast<double>(increment_step(name));
  Tensor& m_t = state_tensor(name, "exp_avg", param);
  Tensor& v_t = state_tensor(name, "exp_avg_sq", param);
  Tensor vmax_t = o.amsgrad() ? state_tensor(name, "max_exp_avg_sq", param) : Tensor();
  const double bc1 = 1 - std::pow(o.beta1(), step), bc2 = 1 - std::pow(o.beta2(), step);
  const double step_size = o.lr() / bc1, bc2_sqrt = std::sqrt(bc2);
  AdamStep s{};
  s.beta1 = o.beta1();
  s.beta2 = o.beta2();
  s.eps = o.eps();
  s.l2 = decoupled_ ? 0.0 : o.weight_decay();
  s.decay = 1 - o.lr() * o.weight_decay();
  s.decoupled = decoupled_;
  s.bc2_sqrt = bc2_sqrt;
  s.neg_step = -step_size;
  const Tensor& g = detail::checked_gradient(param, grad);
  backend(param.device())
      .adam_step(param.dtype(), s, param.raw_data(), g.raw_data(), m_t.raw_data(), v_t.raw_data(),
                 detail::data_or_null(vmax_t), param.numel());
}

}  // namespace sl
