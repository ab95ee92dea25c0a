// Quantizer kernels: projection onto a sorted level set (APoT, uniform and any table-driven family).
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

namespace {

template <class T>
void nearest_typed(const T* x, int64_t n, const double* levels_in, const int32_t* rank, int64_t nlev, T* value,
                   int32_t* index) {
  std::vector<T> levels(levels_in, levels_in + nlev);
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T v = x[i];
      // First level >= v; the nearest is this one or a neighbour. Distances are compared in T, as
      // a brute-force argmin over the set would, over a window that covers rounding ties.
      int64_t hi = std::lower_bound(levels.begin(), levels.end(), v) - levels.begin();
      int64_t lo = std::max<int64_t>(0, hi - 2), end = std::min<int64_t>(nlev, hi + 2);
      int64_t best = lo;
      T best_d = std::abs(v - levels[static_cast<size_t>(lo)]);
      for (int64_t k = lo + 1; k < end; ++k) {
        T d = std::abs(v - levels[static_cast<size_t>(k)]);
        if (d < best_d || (d == best_d && rank[k] < rank[best])) {
          best = k;
          best_d = d;
        }
      }
      if (value) value[i] = levels[static_cast<size_t>(best)];
      if (index) index[i] = static_cast<int32_t>(best);
    }
  });
}

void nearest_level(DType dt, const void* x, int64_t n, const double* levels, const int32_t* rank, int64_t nlev,
                   void* value, int32_t* index) {
  SL_CHECK(nlev > 0, "nearest_level: empty level set");
  dispatch_floating(dt, "nearest_level", [&](auto tag) {
    using T = decltype(tag);
    nearest_typed(static_cast<const T*>(x), n, levels, rank, nlev, static_cast<T*>(value), index);
  });
}

}  // namespace

void register_quant(Backend& b) { b.nearest_level = nearest_level; }

}  // namespace sl::cpu
