// The zero-FLOP spatial shift: every output pixel is one input pixel (or 0 past the border), so
// the kernel is pure memory traffic, O(N*C*H*W), with contiguous row copies.
#include <algorithm>
#include <cstring>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

namespace {

template <class T>
void shift_typed(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kernel, int64_t dilation, int direction,
                 const T* x, T* y) {
  parallel_for(n * c, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, h * w)), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      ShiftOffset o = shift2d_offset(plane % c, c, kernel, dilation);
      int64_t dy = direction * o.dy, dx = direction * o.dx;
      const T* src = x + plane * h * w;
      T* dst = y + plane * h * w;
      // Output columns [j0, j1) read input columns j + dx; the rest are zero.
      int64_t j0 = std::clamp<int64_t>(-dx, 0, w), j1 = std::clamp<int64_t>(w - dx, 0, w);
      for (int64_t i = 0; i < h; ++i) {
        T* row = dst + i * w;
        int64_t si = i + dy;
        if (si < 0 || si >= h || j0 >= j1) {
          std::fill(row, row + w, T(0));
          continue;
        }
        std::fill(row, row + j0, T(0));
        std::memcpy(row + j0, src + si * w + j0 + dx, static_cast<size_t>(j1 - j0) * sizeof(T));
        std::fill(row + j1, row + w, T(0));
      }
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
