// SGD. The update runs as the backend's sgd_step kernel: scalars are cast to the parameter's dtype and
// `a + alpha * b` is a fused multiply-add, as in PyTorch's vectorised CPU kernels, so f32 trajectories
// match torch to the last bit or nearly.
#include "train/sgd.h"

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
  const SgdStep step{o.weight_decay(), o.momentum(), o.dampening(), -o.lr(), o.nesterov(), first};
  const Tensor& g = detail::checked_gradient(param, grad);
  backend(param.device())
      .sgd_step(param.dtype(), step, param.raw_data(), g.raw_data(), detail::data_or_null(buf), param.numel());
}

}  // namespace sl
