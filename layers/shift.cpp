// Shift2d: option checks at construction; the work is autograd's shift2d (O(N*C*H*W), no im2col).
#include "layers/shift.h"

#include "engine/error.h"

namespace sl {

Shift2d::Shift2d(const Shift2dOptions& options) : options_(options) {
  SL_CHECK(options.kernel_size() >= 1 && options.kernel_size() % 2 == 1,
           "Shift2d: kernel size must be odd and positive (the offsets are centred on the pixel), got {}",
           options.kernel_size());
  SL_CHECK(options.dilation() >= 1, "Shift2d: dilation must be >= 1, got {}", options.dilation());
}

Tensor Shift2d::forward(const Tensor& x) { return shift2d(x, options_.kernel_size(), options_.dilation()); }

}  // namespace sl
