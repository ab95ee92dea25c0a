// 2-D convolution (cross-correlation, as PyTorch) on the backend kernels.
//   dx = conv2d_backward_input(dy, W)    dW = conv2d_backward_weight(x, dy)    db = sum of dy over n, h, w
// shift_conv2d: conv2d(shift2d(x), W) for ShiftResNet's 1x1 conv, with the shift read as addressing.
#include <atomic>

#include "autograd/ops/internal.h"

namespace sl {

namespace {

Conv2dParams conv_params(const Tensor& x, const Tensor& w, const Conv2dArgs& a) {
  SL_CHECK(x.dim() == 4, "conv2d: input must be 4-D [n, c, h, w], got {}", shape_str(x.shape()));
  SL_CHECK(w.dim() == 4, "conv2d: weight must be 4-D [cout, cin/groups, kh, kw], got {}", shape_str(w.shape()));
  SL_CHECK(a.groups >= 1, "conv2d: groups must be >= 1, got {}", a.groups);
  for (int i = 0; i < 2; ++i) {
    SL_CHECK(a.stride[i] >= 1 && a.dilation[i] >= 1 && a.padding[i] >= 0,
             "conv2d: stride and dilation must be >= 1 and padding >= 0 (got stride {}, padding {}, dilation {})",
             a.stride[i], a.padding[i], a.dilation[i]);
  }
  Conv2dParams p{};
  p.n = x.size(0); p.cin = x.size(1); p.h = x.size(2); p.w = x.size(3);
  p.cout = w.size(0); p.kh = w.size(2); p.kw = w.size(3);
  p.sh = a.stride[0]; p.sw = a.stride[1]; p.ph = a.padding[0]; p.pw = a.padding[1];
  p.dh = a.dilation[0]; p.dw = a.dilation[1]; p.groups = a.groups;
  SL_CHECK(p.cin % p.groups == 0 && p.cout % p.groups == 0,
           "conv2d: channels in ({}) and out ({}) must both be divisible by groups ({})", p.cin, p.cout, p.groups);
  SL_CHECK(w.size(1) == p.cin / p.groups,
           "conv2d: weight {} expects {} input channels per group, input {} has {} ({} groups)",
           shape_str(w.shape()), w.size(1), shape_str(x.shape()), p.cin / p.groups, p.groups);
  p.ho = (p.h + 2 * p.ph - p.dh * (p.kh - 1) - 1) / p.sh + 1;
  p.wo = (p.w + 2 * p.pw - p.dw * (p.kw - 1) - 1) / p.sw + 1;
  SL_CHECK(p.h + 2 * p.ph >= p.dh * (p.kh - 1) + 1 && p.w + 2 * p.pw >= p.dw * (p.kw - 1) + 1,
           "conv2d: kernel {}x{} (dilation {}x{}) is larger than the padded input {}x{}", p.kh, p.kw, p.dh, p.dw,
           p.h + 2 * p.ph, p.w + 2 * p.pw);
  return p;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dArgs& args) {
  check_floating("conv2d", x);
  SL_CHECK(x.dtype() == weight.dtype(), "conv2d: input dtype {} and weight dtype {} differ", x.dtype(), weight.dtype());
  check_same_device("conv2d", x, weight);
  Conv2dParams p = conv_params(x, weight, args);
  Tensor y = Tensor::empty({p.n, p.cout, p.ho, p.wo}, x.dtype(), x.device());
  if (y.numel() > 0) detail::backend_of(x).conv2d_forward(x.dtype(), p, x.raw_data(), weight.raw_data(), y.raw_data());
  // Keep x only for the weight gradient and W only for the input gradient.
  Tensor xd = weight.requires_grad() ? x.detach() : Tensor();
  Tensor wd = x.requires_grad() ? weight.detach() : Tensor();
  y = record("conv2d", y, {x, weight}, [p, xd, wd](const Tensor& g, const std::vector<bool>& needs) {
    TensorList grads(2);
    Backend& be = detail::backend_of(g);
    if (needs[0]) {
      grads[0] = Tensor::empty({p.n, p.cin, p.h, p.w}, g.dtype(), g.device());
      if (grads[0].numel() > 0) be.conv2d_backward_input(g.dtype(), p, g.raw_data(), wd.raw_data(), grads[0].raw_data());
    }
    if (needs[1]) {
      grads[1] = Tensor::empty({p.cout, p.cin / p.groups, p.kh, p.kw}, g.dtype(), g.device());
      be.conv2d_backward_weight(g.dtype(), p, xd.raw_data(), g.raw_data(), grads[1].raw_data());
    }
    return grads;
  });
  if (!bias.defined()) return y;
  SL_CHECK(bias.dim() == 1 && bias.size(0) == p.cout, "conv2d: bias {} does not match {} output channels",
           shape_str(bias.shape()), p.cout);
  return add(y, reshape(bias, {1, p.cout, 1, 1}));
}

namespace {
std::atomic<bool> fused_ops_on{true};
}  // namespace

bool set_fused_ops(bool on) { return fused_ops_on.exchange(on); }
bool fused_ops() { return fused_ops_on; }

Tensor shift_conv2d(const Tensor& x, const Tensor& weight, int64_t kernel, int64_t dilation, int64_t stride) {
  check_floating("shift_conv2d", x);
  SL_CHECK(x.dtype() == weight.dtype(), "shift_conv2d: input dtype {} and weight dtype {} differ", x.dtype(),
           weight.dtype());
  check_same_device("shift_conv2d", x, weight);
  SL_CHECK(weight.dim() == 4 && weight.size(2) == 1 && weight.size(3) == 1,
           "shift_conv2d: weight must be a 1x1 conv's [cout, cin, 1, 1], got {}", shape_str(weight.shape()));
  SL_CHECK(kernel >= 1 && kernel % 2 == 1, "shift_conv2d: shift kernel size must be odd and positive, got {}", kernel);
  SL_CHECK(dilation >= 1, "shift_conv2d: shift dilation must be >= 1, got {}", dilation);
  Conv2dArgs args;
  args.stride = {stride, stride};
  Conv2dParams p = conv_params(x, weight, args);
  Backend& be = detail::backend_of(x);
  if (!fused_ops() || !be.shift_conv2d_forward.available() || !be.shift_conv2d_backward_input.available() ||
      !be.shift_conv2d_backward_weight.available())
    return conv2d(shift2d(x, kernel, dilation), weight, Tensor(), args);
  Tensor y = Tensor::empty({p.n, p.cout, p.ho, p.wo}, x.dtype(), x.device());
  if (y.numel() > 0) be.shift_conv2d_forward(x.dtype(), p, kernel, dilation, x.raw_data(), weight.raw_data(), y.raw_data());
  Tensor xd = weight.requires_grad() ? x.detach() : Tensor();
  Tensor wd = x.requires_grad() ? weight.detach() : Tensor();
  return record("shift_conv2d", y, {x, weight},
                [p, kernel, dilation, xd, wd](const Tensor& g, const std::vector<bool>& needs) {
                  TensorList grads(2);
                  Backend& b = detail::backend_of(g);
                  if (needs[0]) {
                    grads[0] = Tensor::empty({p.n, p.cin, p.h, p.w}, g.dtype(), g.device());
                    if (grads[0].numel() > 0)
                      b.shift_conv2d_backward_input(g.dtype(), p, kernel, dilation, g.raw_data(), wd.raw_data(),
                                                    grads[0].raw_data());
                  }
                  if (needs[1]) {
                    grads[1] = Tensor::empty({p.cout, p.cin, 1, 1}, g.dtype(), g.device());
                    b.shift_conv2d_backward_weight(g.dtype(), p, kernel, dilation, xd.raw_data(), g.raw_data(),
                                                   grads[1].raw_data());
                  }
                  return grads;
                });
}

}  // namespace sl
