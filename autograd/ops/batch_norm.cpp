// Batch normalisation over (n, h, w) per channel. With xhat = (x - mean) * invstd and M values
// per channel, training mode:
//   dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),  dgamma = sum(dy * xhat),  dbeta = sum(dy)
// and evaluation mode (statistics are constants): dx = gamma * invstd * dy.
#include <algorithm>
#include <cmath>

#include "autograd/ops/internal.h"

namespace sl {

namespace {
void check_channel_vector(const char* what, const Tensor& t, const Tensor& x, int64_t c) {
  if (!t.defined()) return;
  SL_CHECK(t.dim() == 1 && t.size(0) == c, "batch_norm: {} has shape {}, expected [{}] for input {}", what,
           shape_str(t.shape()), c, shape_str(x.shape()));
  SL_CHECK(t.dtype() == x.dtype(), "batch_norm: {} dtype {} differs from input dtype {}", what, t.dtype(), x.dtype());
  check_same_device("batch_norm", t, x);
}
}  // namespace

namespace {

// batch_norm, then ReLU in the same kernels when `relu` (training mode, fused kernels present), with
// `residual` (x's shape) added before it when defined.
Tensor batch_norm_impl(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps, bool relu,
                       const Tensor& residual = Tensor()) {
  check_floating("batch_norm", x);
  SL_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: input must be [n, c] or [n, c, h, w], got {}",
           shape_str(x.shape()));
  BatchNormParams p{x.size(0), x.size(1), x.dim() == 4 ? x.size(2) * x.size(3) : 1, eps, momentum};
  check_channel_vector("weight", gamma, x, p.c);
  check_channel_vector("bias", beta, x, p.c);
  check_channel_vector("running_mean", running_mean, x, p.c);
  check_channel_vector("running_var", running_var, x, p.c);
  SL_CHECK(running_mean.defined() == running_var.defined(), "batch_norm: running_mean and running_var must both be given");
  Backend& be = detail::backend_of(x);
  Tensor y = empty_like(x);
  Tensor mean, invstd;
  auto ptr = [](const Tensor& t) -> const void* { return t.defined() ? t.raw_data() : nullptr; };
  if (training) {
    SL_CHECK(p.n * p.inner > 1, "batch_norm: expected more than 1 value per channel when training, got input {}",
             shape_str(x.shape()));
    mean = Tensor::empty({p.c}, x.dtype(), x.device());
    invstd = Tensor::empty({p.c}, x.dtype(), x.device());
    Tensor rm_buf = running_mean, rv_buf = running_var;  // handles to the buffers updated in place
    void* rm = rm_buf.defined() ? rm_buf.raw_data() : nullptr;
    void* rv = rv_buf.defined() ? rv_buf.raw_data() : nullptr;
    if (residual.defined())
      be.batch_norm_add_relu_train_forward(x.dtype(), p, x.raw_data(), ptr(gamma), ptr(beta), residual.raw_data(),
                                           y.raw_data(), mean.raw_data(), invstd.raw_data(), rm, rv);
    else
      (relu ? be.batch_norm_relu_train_forward : be.batch_norm_train_forward)(
          x.dtype(), p, x.raw_data(), ptr(gamma), ptr(beta), y.raw_data(), mean.raw_data(), invstd.raw_data(), rm, rv);
  } else {
    SL_CHECK(!relu, "batch_norm_relu: the fused op is for training mode");
    SL_CHECK(running_mean.defined(), "batch_norm: evaluation mode needs running_mean and running_var");
    be.batch_norm_eval_forward(x.dtype(), p, x.raw_data(), ptr(gamma), ptr(beta), running_mean.raw_data(),
                               running_var.raw_data(), y.raw_data());
    NoGradGuard no_grad;
    mean = clone(running_mean);
    invstd = reciprocal(sqrt(running_var + eps));
  }
  Tensor xd = x.detach(), gd = gamma.defined() ? gamma.detach() : Tensor();
  if (residual.defined()) {
    // ReLU's rule masks the gradient with the output: keep it, detached.
    Tensor yd = y.detach();
    // ReLU's masked gradient goes to the shortcut as it is, and through batch_norm_backward to x,
    // gamma and beta: the composition's kernels on the same values.
    return record("batch_norm_add_relu", y, {x, gamma, beta, residual},
                  [p, xd, yd, gd, mean, invstd](const Tensor& g, const std::vector<bool>& needs) {
                    Backend& b = detail::backend_of(g);
                    Tensor masked = empty_like(g);
                    b.unary_backward(UnaryOp::relu, g.dtype(), yd.raw_data(), yd.raw_data(), g.raw_data(),
                                     masked.raw_data(), g.numel());
                    TensorList grads(4);
                    if (needs[0]) grads[0] = empty_like(xd);
                    if (needs[1]) grads[1] = Tensor::empty({p.c}, g.dtype(), g.device());
                    if (needs[2]) grads[2] = Tensor::empty({p.c}, g.dtype(), g.device());
                    auto out = [](Tensor& t) { return t.defined() ? t.raw_data() : nullptr; };
                    if (needs[0] || needs[1] || needs[2])
                      b.batch_norm_backward(g.dtype(), p, true, xd.raw_data(), masked.raw_data(),
                                            gd.defined() ? gd.raw_data() : nullptr, mean.raw_data(),
                                            invstd.raw_data(), out(grads[0]), out(grads[1]), out(grads[2]));
                    if (needs[3]) grads[3] = masked;
                    return grads;
                  });
  }
  // batch_norm_relu_backward recomputes ReLU's mask from x, the statistics, gamma and beta.
  Tensor bd = relu && beta.defined() ? beta.detach() : Tensor();
  return record(relu ? "batch_norm_relu" : "batch_norm", y, {x, gamma, beta},
                [p, training, relu, xd, gd, bd, mean, invstd](const Tensor& g, const std::vector<bool>& needs) {
                  TensorList grads(3);
                  if (needs[0]) grads[0] = empty_like(xd);
                  if (needs[1]) grads[1] = Tensor::empty({p.c}, g.dtype(), g.device());
                  if (needs[2]) grads[2] = Tensor::empty({p.c}, g.dtype(), g.device());
                  auto out = [](Tensor& t) { return t.defined() ? t.raw_data() : nullptr; };
                  const void* gamma_p = gd.defined() ? gd.raw_data() : nullptr;
                  Backend& b = detail::backend_of(g);
                  if (relu)
                    b.batch_norm_relu_backward(g.dtype(), p, xd.raw_data(), g.raw_data(), gamma_p,
                                               bd.defined() ? bd.raw_data() : nullptr, mean.raw_data(),
                                               invstd.raw_data(), out(grads[0]), out(grads[1]), out(grads[2]));
                  else
                    b.batch_norm_backward(g.dtype(), p, training, xd.raw_data(), g.raw_data(), gamma_p,
                                          mean.raw_data(), invstd.raw_data(), out(grads[0]), out(grads[1]),
                                          out(grads[2]));
                  return grads;
                });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  return batch_norm_impl(x, gamma, beta, running_mean, running_var, training, momentum, eps, false);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps) {
  const Backend& be = detail::backend_of(x);
  if (training && fused_ops() && be.batch_norm_relu_train_forward.available() && be.batch_norm_relu_backward.available())
    return batch_norm_impl(x, gamma, beta, running_mean, running_var, training, momentum, eps, true);
  return relu(batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps));
}

Tensor batch_norm_add_relu(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                           const Tensor& running_mean, const Tensor& running_var, bool training, double momentum,
                           double eps) {
  const Backend& be = detail::backend_of(x);
  // The fused kernel reads the shortcut element for element: same shape, dtype and device (otherwise
  // the composition broadcasts or reports the mismatch).
  const bool fused = training && fused_ops() && be.batch_norm_add_relu_train_forward.available() &&
                     residual.defined() && residual.shape() == x.shape() && residual.dtype() == x.dtype() &&
                     residual.device() == x.device();
  if (fused) return batch_norm_impl(x, gamma, beta, running_mean, running_var, training, momentum, eps, true, residual);
  return relu(batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps) + residual);
}

Tensor standardize(const Tensor& x) {
  check_floating("standardize", x);
  const int64_t n = x.numel();
  SL_CHECK(n > 1, "standardize: needs more than one element, got shape {}", shape_str(x.shape()));
  // Viewed as [n / chunk, 1, chunk, 1]: one channel whose statistics the kernels sum per chunk in
  // f32 lanes, then across chunks in double, so chunks of a few thousand keep f32 precise (a large
  // prime n stays one chunk).
  int64_t chunk = n;
  for (int64_t m = std::min<int64_t>(n, 4096); m >= 256; --m)
    if (n % m == 0) {
      chunk = m;
      break;
    }
  // batch_norm divides by the biased std (eps 0); gamma = sqrt((n - 1) / n), a constant, makes it
  // the unbiased one.
  const Tensor gamma = full({1}, std::sqrt(static_cast<double>(n - 1) / static_cast<double>(n)), x.dtype(), x.device());
  Tensor y = batch_norm(reshape(x, {n / chunk, 1, chunk, 1}), gamma, Tensor(), Tensor(), Tensor(), true, 0.0, 0.0);
  return reshape(y, x.shape());
}

}  // namespace sl
