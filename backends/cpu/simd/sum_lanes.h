// Sums whose bits must not depend on the SIMD target: they run in 16 lanes whatever the vector width
// (one AVX-512 register, two AVX2, four SSE4 / NEON), and the lanes are folded pairwise in one fixed
// order (batch norm's sums, the depthwise weight gradient).
#pragma once
#include <cstdint>

namespace sl::cpu {

constexpr int64_t kSumLanes = 16;

// l[0] + ... + l[15] as l[i] += l[i + 8], then + 4, + 2, + 1 (in place); returns l[0].
template <class T>
T fold_lanes(T* l) {
  for (int64_t width = kSumLanes / 2; width >= 1; width /= 2)
    for (int64_t i = 0; i < width; ++i) l[i] += l[i + width];
  return l[0];
}

}  // namespace sl::cpu
