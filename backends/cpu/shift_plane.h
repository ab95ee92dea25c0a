// One plane of the spatial shift, shared by the shift2d op (shift.cpp) and the shifted 1x1 conv's
// column block (conv2d.cpp).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace sl::cpu {

// dst[r, q] = src[r + dy, q + dx] over an h x w plane, 0 where that falls outside: one flat copy of
// the rows that stay inside (a row's end then reads into the next row), then the columns that
// wrapped set to zero, rather than a copy per row (planes are 8 to 32 floats wide).
template <class T>
void shift_plane(int64_t h, int64_t w, int64_t dy, int64_t dx, const T* src, T* dst) {
  const int64_t r0 = std::clamp<int64_t>(-dy, 0, h), r1 = std::clamp<int64_t>(h - dy, r0, h);
  if (r1 == r0 || std::abs(dx) >= w) {
    std::fill(dst, dst + h * w, T(0));
    return;
  }
  const int64_t off = dy * w + dx;
  const int64_t q0 = std::max(r0 * w, -off), q1 = std::min(r1 * w, h * w - off);
  std::fill(dst, dst + q0, T(0));
  std::copy(src + q0 + off, src + q1 + off, dst + q0);
  std::fill(dst + q1, dst + h * w, T(0));
  if (dx == 0) return;
  const int64_t c0 = dx > 0 ? w - dx : 0;  // the |dx| columns whose source lies past the row's end
  for (int64_t r = r0; r < r1; ++r) std::fill(dst + r * w + c0, dst + r * w + c0 + std::abs(dx), T(0));
}

}  // namespace sl::cpu
