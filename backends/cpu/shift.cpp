// The zero-FLOP spatial shift: every output pixel is one input pixel (or 0 past the border), so
// the kernel is pure memory traffic, O(N*C*H*W): a flat copy per plane (shift_plane.h).
#include <algorithm>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/shift_plane.h"

namespace sl::cpu {

namespace {

template <class T>
void shift_typed(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kernel, int64_t dilation, int direction,
                 const T* x, T* y) {
  parallel_for(n * c, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, h * w)), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const ShiftOffset o = shift2d_offset(plane % c, c, kernel, dilation);
      shift_plane(h, w, direction * o.dy, direction * o.dx, x + plane * h * w, y + plane * h * w);
    }
  });
}

void shift2d(DType dt, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kernel, int64_t dilation, int direction,
             const void* x, void* y) {
  dispatch_floating(dt, "shift2d", [&](auto tag) {
    using T = decltype(tag);
    shift_typed(n, c, h, w, kernel, dilation, direction, static_cast<const T*>(x), static_cast<T*>(y));
  });
}

}  // namespace

void register_shift(Backend& b) { b.shift2d = shift2d; }

}  // namespace sl::cpu
