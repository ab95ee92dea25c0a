// RAdam / Ranger with DeepShift's arithmetic: moments and the update in the parameter's dtype,
// rho_t and the step size in double (Python floats), the scalar factors cast when applied.
#include "train/radam.h"

#include <cmath>

#include "train/optim_detail.h"

namespace sl {

RAdam::RAdam(std::vector<ParamGroup> groups, bool lookahead)
    : Optimizer(std::move(groups), lookahead ? "Ranger" : "RAdam"), lookahead_(lookahead) {
  check_all_options();
}

void RAdam::check_options(const OptimizerOptions& o, size_t g) const {
  SL_CHECK(o.beta1() >= 0 && o.beta1() < 1 && o.beta2() >= 0 && o.beta2() < 1,
           "{}: betas must be in [0, 1), got ({}, {}) (group {})", type_name(), o.beta1(), o.beta2(), g);
  SL_CHECK(o.eps() >= 0, "{}: eps must be >= 0, got {} (group {})", type_name(), o.eps(), g);
  if (lookahead_) {  // Ranger's own checks
    SL_CHECK(o.alpha() >= 0 && o.alpha() <= 1, "Ranger: alpha must be in [0, 1], got {} (group {})", o.alpha(), g);
    SL_CHECK(o.k() >= 1, "Ranger: k must be >= 1, got {} (group {})", o.k(), g);
    SL_CHECK(o.lr() > 0, "Ranger: lr must be > 0, got {} (group {})", o.lr(), g);
    SL_CHECK(o.eps() > 0, "Ranger: eps must be > 0, got {} (group {})", o.eps(), g);
  }
}

std::vector<std::string> RAdam::state_keys(const OptimizerOptions&) const {
  if (lookahead_) return {"step", "exp_avg", "exp_avg_sq", "slow_buffer"};
  return {"step", "exp_avg", "exp_avg_sq"};
}

void RAdam::update(const std::string& name, Tensor& param, const Tensor& grad, const OptimizerOptions& o) {
  // The slow weights start as the parameter before its first update.
  if (lookahead_ && !has_state(name, "slow_buffer")) state_tensor(name, "slow_buffer", param) = param.detach().clone();
  const int64_t t = increment_step(name);
  Tensor& m_t = state_tensor(name, "exp_avg", param);
  Tensor& v_t = state_tensor(name, "exp_avg_sq", param);
  Tensor slow_t = lookahead_ ? state_tensor(name, "slow_buffer", param) : Tensor();

  const double b1 = o.beta1(), b2 = o.beta2();
  const double b2t = std::pow(b2, static_cast<double>(t));
  const double n_sma_max = 2 / (1 - b2) - 1;
  const double n_sma = n_sma_max - 2 * static_cast<double>(t) * b2t / (1 - b2t);
  const bool rectified = lookahead_ ? n_sma > o.n_sma_threshold() : n_sma >= 5;
  const double bc1 = 1 - std::pow(b1, static_cast<double>(t));
  const double step_size =
      rectified
          ? std::sqrt((1 - b2t) * (n_sma - 4) / (n_sma_max - 4) * (n_sma - 2) / n_sma * n_sma_max / (n_sma_max - 2)) /
                bc1
          : 1.0 / bc1;
  const bool sync = lookahead_ && t % o.k() == 0;

  RAdamStep s{};
  s.beta1 = b1;
  s.beta2 = b2;
  s.eps = o.eps();
  s.decay = -o.weight_decay() * o.lr();
  s.rectified = rectified;
  s.neg_step = -step_size * o.lr();
  s.sync = sync;
  s.alpha = o.alpha();
  const Tensor& g = detail::checked_gradient(param, grad);
  backend(param.device())
      .radam_step(param.dtype(), s, param.raw_data(), g.raw_data(), m_t.raw_data(), v_t.raw_data(),
                  detail::data_or_null(slow_t), param.numel());
}

}  // namespace sl
