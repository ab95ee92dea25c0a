// The max reduction's rule, shared by the CPU loop and the CUDA kernels (host and device code):
// the first maximum wins and a NaN is the maximum (it propagates, like PyTorch's max).
#pragma once
#include <cstdint>

#include "backends/params.h"

namespace sl {

// A (value, index) candidate of the max; index -1 means "no element yet".
template <class T>
struct MaxArg {
  T value;
  int32_t index;
};

// The sequential scan of `extent` values `stride` apart: a later value replaces the running one
// only if it is larger or a NaN, and nothing replaces a NaN.
template <class T>
SL_HOST_DEVICE inline MaxArg<T> scan_max(const T* p, int64_t extent, int64_t stride) {
  MaxArg<T> best{p[0], 0};
  for (int64_t r = 1; r < extent; ++r) {
    T v = p[r * stride];
    if (best.value == best.value && (v > best.value || v != v)) best = {v, static_cast<int32_t>(r)};
  }
  return best;
}

// The order under which scan_max's answer is the maximum, for combining partial scans in any tree:
// any NaN beats any number, larger numbers beat smaller, and ties (NaN vs NaN, equal numbers) go to
// the smaller index.
template <class T>
SL_HOST_DEVICE inline bool max_beats(const MaxArg<T>& a, const MaxArg<T>& b) {
  if (a.index < 0) return false;
  if (b.index < 0) return true;
  bool an = a.value != a.value, bn = b.value != b.value;
  if (an != bn) return an;
  if (!an && a.value != b.value) return a.value > b.value;
  return a.index < b.index;
}

}  // namespace sl
