// Pooling. Max pool routes dy to the argmax of each window (indices kept from the forward);
// average pools spread dy evenly over each window.
#include "autograd/ops/internal.h"

namespace sl {

namespace {

Pool2dParams pool_params(const char* op, const Tensor& x, const Pool2dArgs& a) {
  check_floating(op, x);
  SL_CHECK(x.dim() == 4, "{}: input must be 4-D [n, c, h, w], got {}", op, shape_str(x.shape()));
  Pool2dParams p{};
  p.n = x.size(0); p.c = x.size(1); p.h = x.size(2); p.w = x.size(3);
  p.kh = a.kernel[0]; p.kw = a.kernel[1];
  p.sh = a.stride[0] ? a.stride[0] : p.kh;
  p.sw = a.stride[1] ? a.stride[1] : p.kw;
  p.ph = a.padding[0]; p.pw = a.padding[1];
  p.count_include_pad = a.count_include_pad;
  SL_CHECK(p.kh >= 1 && p.kw >= 1 && p.sh >= 1 && p.sw >= 1, "{}: kernel {}x{} and stride {}x{} must be >= 1", op,
           p.kh, p.kw, p.sh, p.sw);
  SL_CHECK(p.ph >= 0 && p.pw >= 0 && 2 * p.ph <= p.kh && 2 * p.pw <= p.kw,
           "{}: padding {}x{} must be between 0 and half the kernel {}x{}", op, p.ph, p.pw, p.kh, p.kw);
  SL_CHECK(p.h + 2 * p.ph >= p.kh && p.w + 2 * p.pw >= p.kw, "{}: kernel {}x{} is larger than the padded input {}",
           op, p.kh, p.kw, shape_str(x.shape()));
  p.ho = (p.h + 2 * p.ph - p.kh) / p.sh + 1;
  p.wo = (p.w + 2 * p.pw - p.kw) / p.sw + 1;
  return p;
}

using PoolFwd = Kernel<void(DType, const Pool2dParams&, const void*, void*)> Backend::*;

Tensor avg_like(const char* name, const Tensor& x, const Pool2dParams& p, PoolFwd fwd, PoolFwd bwd) {
  Tensor y = Tensor::empty({p.n, p.c, p.ho, p.wo}, x.dtype(), x.device());
  Backend& be = detail::backend_of(x);
  if (y.numel() > 0) (be.*fwd)(x.dtype(), p, x.raw_data(), y.raw_data());
  return record(name, y, {x}, [p, bwd](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = Tensor::empty({p.n, p.c, p.h, p.w}, g.dtype(), g.device());
    if (gx.numel() > 0) (detail::backend_of(g).*bwd)(g.dtype(), p, g.raw_data(), gx.raw_data());
    return TensorList{gx};
  });
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dArgs& args) {
  Pool2dParams p = pool_params("max_pool2d", x, args);
  Tensor y = Tensor::empty({p.n, p.c, p.ho, p.wo}, x.dtype(), x.device());
  Tensor index = Tensor::empty(y.shape(), DType::i32, x.device());
  if (y.numel() > 0)
    detail::backend_of(x).max_pool2d_forward(x.dtype(), p, x.raw_data(), y.raw_data(),
                                             static_cast<int32_t*>(index.raw_data()));
  return record("max_pool2d", y, {x}, [p, index](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = Tensor::empty({p.n, p.c, p.h, p.w}, g.dtype(), g.device());
    if (gx.numel() > 0)
      detail::backend_of(g).max_pool2d_backward(g.dtype(), p, g.raw_data(),
                                                static_cast<const int32_t*>(index.raw_data()), gx.raw_data());
    return TensorList{gx};
  });
}

Tensor avg_pool2d(const Tensor& x, const Pool2dArgs& args) {
  return avg_like("avg_pool2d", x, pool_params("avg_pool2d", x, args), &Backend::avg_pool2d_forward,
                  &Backend::avg_pool2d_backward);
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size) {
  check_floating("adaptive_avg_pool2d", x);
  SL_CHECK(x.dim() == 4, "adaptive_avg_pool2d: input must be 4-D [n, c, h, w], got {}", shape_str(x.shape()));
  SL_CHECK(output_size[0] >= 1 && output_size[1] >= 1, "adaptive_avg_pool2d: output size {}x{} must be >= 1",
           output_size[0], output_size[1]);
  Pool2dParams p{};
  p.n = x.size(0); p.c = x.size(1); p.h = x.size(2); p.w = x.size(3);
  p.ho = output_size[0]; p.wo = output_size[1];
  return avg_like("adaptive_avg_pool2d", x, p, &Backend::adaptive_avg_pool2d_forward,
                  &Backend::adaptive_avg_pool2d_backward);
}

}  // namespace sl
