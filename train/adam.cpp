// Adam / AdamW: torch 1.13's _single_tensor_adam(w) in the parameter's dtype; bias corrections and
// the step size are computed in double, as the Python code does, then cast.
#include "train/adam.h"

#include <algorithm>
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
  detail::with_host_data(param, grad, [&](auto* p, const auto* g, int64_t n) {
    using T = detail::elem_t<decltype(p)>;
    T* m = m_t.template data<T>();
    T* v = v_t.template data<T>();
    T* vmax = vmax_t.defined() ? vmax_t.template data<T>() : nullptr;
    const T b1 = static_cast<T>(o.beta1()), b2 = static_cast<T>(o.beta2());
    const T one_b1 = static_cast<T>(1 - o.beta1()), one_b2 = static_cast<T>(1 - o.beta2());
    const T wd = static_cast<T>(o.weight_decay()), decay = static_cast<T>(1 - o.lr() * o.weight_decay());
    const T eps = static_cast<T>(o.eps()), c2 = static_cast<T>(bc2_sqrt), neg_step = static_cast<T>(-step_size);
    const bool l2 = !decoupled_ && o.weight_decay() != 0;
    for (int64_t i = 0; i < n; ++i) {
      if (decoupled_) p[i] *= decay;
      T gi = l2 ? std::fma(p[i], wd, g[i]) : g[i];
      m[i] = detail::flush_subnormal(std::fma(gi, one_b1, m[i] * b1));
      v[i] = detail::flush_subnormal(v[i] * b2 + one_b2 * gi * gi);
      T second = v[i];
      if (vmax) second = vmax[i] = std::max(vmax[i], v[i]);
      T denom = std::sqrt(second) / c2 + eps;
      p[i] = p[i] + neg_step * m[i] / denom;
    }
  });
}

}  // namespace sl
