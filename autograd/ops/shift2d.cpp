// Shift2d (Wu et al., "Shift: A Zero FLOP, Zero Parameter Alternative to Spatial Convolutions"),
// with ShiftResNet's channel-to-offset assignment (backends/params.h: shift2d_offset).
//   y[n,c,i,j] = x[n,c,i+dy_c,j+dx_c] (0 outside);  dx = the opposite shift of dy (its adjoint).
#include "autograd/ops/internal.h"

namespace sl {

Tensor shift2d(const Tensor& x, int64_t kernel, int64_t dilation) {
  check_floating("shift2d", x);
  SL_CHECK(x.dim() == 4, "shift2d: input must be 4-D [n, c, h, w], got {}", shape_str(x.shape()));
  SL_CHECK(kernel >= 1 && kernel % 2 == 1, "shift2d: kernel size must be odd and positive, got {}", kernel);
  SL_CHECK(dilation >= 1, "shift2d: dilation must be >= 1, got {}", dilation);
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor y = empty_like(x);
  if (y.numel() > 0) detail::backend_of(x).shift2d(x.dtype(), n, c, h, w, kernel, dilation, 1, x.raw_data(), y.raw_data());
  return record("shift2d", y, {x}, [n, c, h, w, kernel, dilation](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = empty_like(g);
    if (gx.numel() > 0)
      detail::backend_of(g).shift2d(g.dtype(), n, c, h, w, kernel, dilation, -1, g.raw_data(), gx.raw_data());
    return TensorList{gx};
  });
}

}  // namespace sl
