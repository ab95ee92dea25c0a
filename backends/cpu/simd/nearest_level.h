// The nearest level of an ascending level set, as the Backend's nearest_level contract defines it
// (the scalar window rule), and the thresholds that turn that rule into a count of comparisons for
// the vector kernels. Target-independent: the per-target kernels and the CPU backend share it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

namespace sl::cpu {

// The first level >= v (hi) is found, then the window [hi - 2, hi + 2) is scanned in order, keeping
// the smaller distance, or on equal distance the smaller tie rank. Returns the level's index.
template <class T>
int64_t NearestLevelScalar(T v, const T* levels, const int32_t* rank, int64_t nlev) {
  const int64_t hi = std::lower_bound(levels, levels + nlev, v) - levels;
  const int64_t lo = std::max<int64_t>(0, hi - 2), end = std::min<int64_t>(nlev, hi + 2);
  int64_t best = lo;
  T best_d = std::abs(v - levels[lo]);
  for (int64_t k = lo + 1; k < end; ++k) {
    const T dist = std::abs(v - levels[k]);
    if (dist < best_d || (dist == best_d && rank[k] < rank[best])) {
      best = k;
      best_d = dist;
    }
  }
  return best;
}

namespace detail {
// Finite floats in their order as integers (for a bisection over the representable values).
template <class T>
using OrderedBits = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;

template <class T>
OrderedBits<T> to_ordered(T v) {
  OrderedBits<T> b;
  std::memcpy(&b, &v, sizeof(T));
  return b < 0 ? std::numeric_limits<OrderedBits<T>>::min() - b : b;  // -0 and +0 both map to 0
}

template <class T>
T from_ordered(OrderedBits<T> b) {
  if (b < 0) b = std::numeric_limits<OrderedBits<T>>::min() - b;
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}
}  // namespace detail

// For x in [levels[0], levels[nlev - 1]] the rule above picks a neighbour of x, and since rounded
// distances are monotone in x, the index it picks never decreases as x grows. So it equals the number
// of thresholds t_k <= x, where t_k is the smallest x > levels[k] that picks level k + 1, found here
// by bisection over the representable values with the rule itself (ties and rounding included).
// Returns no thresholds (the caller keeps the window scan) when the premise fails: repeated or
// non-finite levels, or a level that is not its own nearest level.
template <class T>
std::vector<T> LevelThresholds(const T* levels, const int32_t* rank, int64_t nlev) {
  using detail::from_ordered;
  using detail::to_ordered;
  for (int64_t k = 0; k < nlev; ++k)
    if (!std::isfinite(levels[k]) || (k > 0 && !(levels[k - 1] < levels[k])) ||
        NearestLevelScalar(levels[k], levels, rank, nlev) != k)
      return {};
  std::vector<T> t;
  for (int64_t k = 0; k + 1 < nlev; ++k) {
    auto lo = to_ordered(levels[k]), hi = to_ordered(levels[k + 1]);  // picks k at lo, k + 1 at hi
    while (hi - lo > 1) {
      const auto mid = lo + (hi - lo) / 2;
      const int64_t at = NearestLevelScalar(from_ordered<T>(mid), levels, rank, nlev);
      if (at != k && at != k + 1) return {};
      (at == k ? lo : hi) = mid;
    }
    t.push_back(from_ordered<T>(hi));
  }
  return t;
}

}  // namespace sl::cpu
