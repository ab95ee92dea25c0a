// SGD. Scalars are cast to the parameter's dtype and `a + alpha * b` is a fused multiply-add, as in
// PyTorch's vectorised CPU kernels, so f32 trajectories match torch to the last bit or nearly.
#include "train/sgd.h"

#include <cmath>

#include "train/optim_detail.h"

namespace sl {

SGD::SGD(std::vector<ParamGroup> groups) : Optimizer(std::move(groups), "SGD") { check_all_options(); }

void SGD::check_options(const OptimizerOptions& o, size_t g) const {
  SL_CHECK(o.momentum() >= 0, "SGD: momentum must be >= 0, got {} (group {})", o.momentum(), g);
  SL_CHECK(!o.nesterov() || (o.momentum() > 0 && o.dampening() == 0),
           "SGD: nesterov needs momentum > 0 and dampening 0, got momentum {} dampening {} (group {})", o.momentum(),
           o.dampening(), g);
}

void SGD::update(const std::string& name, Tensor& param, const Tensor& grad, const OptimizerOptions& o) {
  bool first = o.momentum() != 0 && !has_state(name, "momentum_buffer");
  Tensor buf = o.momentum() != 0 ? state_tensor(name, "momentum_buffer", param) : Tensor();
  detail::with_host_data(param, grad, [&](auto* p, const auto* g, int64_t n) {
    using T = detail::elem_t<decltype(p)>;
    const T wd = static_cast<T>(o.weight_decay()), mu = static_cast<T>(o.momentum());
    const T damp = static_cast<T>(1 - o.dampening()), neg_lr = static_cast<T>(-o.lr());
    T* b = buf.defined() ? buf.template data<T>() : nullptr;
    for (int64_t i = 0; i < n; ++i) {
      T d = o.weight_decay() != 0 ? std::fma(p[i], wd, g[i]) : g[i];
      if (b) {
        b[i] = first ? d : detail::flush_subnormal(std::fma(d, damp, b[i] * mu));
        d = o.nesterov() ? std::fma(b[i], mu, d) : b[i];
      }
      p[i] = std::fma(d, neg_lr, p[i]);
    }
  });
}

}  // namespace sl
