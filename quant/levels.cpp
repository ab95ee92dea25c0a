#include "quant/levels.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "backends/backend.h"
#include "engine/factory.h"

namespace sl {

namespace {
// Term groups of build_power_value, as exponents of 2^-e (spec §A2.1).
std::vector<std::vector<int>> apot_groups(int B) {
  switch (B) {
    case 2: return {{1, 2, 3}};
    case 3: return {{1, 2, 4}, {3}};
    case 4: return {{1, 3, 5}, {2, 4, 6}};
    case 5: return {{1, 3, 6}, {2, 4, 7}, {5}};
    case 6: return {{1, 4, 7}, {2, 5, 8}, {3, 6, 9}};
    default: fail("apot: additive level sets exist for B = 2..6 (weights 3..7 bits, activations 2..6 bits), got B = {}", B);
  }
}

// Rank of each sorted level in the iteration order of upstream's Python set, which decides exact
// ties (read off the golden `apot_levels_B*_upstream_order.npy`).
std::vector<int32_t> apot_tie_ranks(int B) {
  switch (B) {
    case 2: return {0, 3, 2, 1};
    case 3: return {0, 6, 1, 7, 2, 5, 3, 4};
    case 4: return {0, 4, 12, 15, 3, 14, 8, 11, 10, 1, 13, 9, 2, 7, 6, 5};
    case 5: return {0, 6, 30, 17, 1, 7, 31, 18, 2, 21, 5, 16, 24, 28, 23, 29,
                    26, 27, 3, 19, 4, 20, 22, 25, 8, 14, 9, 15, 12, 13, 10, 11};
    case 6: return {0, 4, 12, 15, 48, 51, 59, 62, 3, 14, 50, 61, 8, 11, 55, 58, 10, 57, 19, 22, 44, 47,
                    21, 46, 40, 43, 42, 1, 13, 49, 60, 9, 56, 20, 45, 41, 2, 7, 52, 63, 6, 54, 36, 39,
                    38, 5, 53, 37, 28, 29, 25, 18, 26, 17, 34, 24, 23, 27, 16, 35, 30, 33, 32, 31};
    default: return {};
  }
}
}  // namespace

LevelSet apot_levels(int B, bool additive) {
  std::vector<std::vector<int>> groups;
  if (additive) {
    groups = apot_groups(B);
  } else {
    SL_CHECK(B >= 1 && B <= 5, "pot: plain power-of-two level sets exist for B = 1..5, got B = {}", B);
    std::vector<int> g;
    for (int e = 1; e <= (1 << B) - 1; ++e) g.push_back(e);
    groups = {g};
  }
  // Every sum of at most one term per group, in double, then rounded to float32 (upstream builds a
  // Python set of floats and converts it to a float32 tensor).
  std::set<double> sums{0.0};
  for (const auto& group : groups) {
    std::set<double> next;
    for (double s : sums) {
      next.insert(s);
      for (int e : group) next.insert(s + std::ldexp(1.0, -e));
    }
    sums = next;
  }
  std::vector<float> raw(sums.begin(), sums.end());
  float inv_max = 1.0f / raw.back();  // float32 reciprocal, then float32 products (spec §A2.3)
  LevelSet set;
  for (float r : raw) set.levels.push_back(static_cast<double>(r * inv_max));
  set.tie_rank = additive ? apot_tie_ranks(B) : std::vector<int32_t>();
  if (set.tie_rank.empty())
    for (size_t i = 0; i < set.levels.size(); ++i) set.tie_rank.push_back(static_cast<int32_t>(i));
  return set;
}

Tensor project_to_levels(const Tensor& x, const LevelSet& set, Tensor* index) {
  check_floating("project_to_levels", x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor idx = index ? Tensor::empty(x.shape(), DType::i32, x.device()) : Tensor();
  if (x.numel() > 0)
    backend(x.device()).nearest_level(x.dtype(), x.raw_data(), x.numel(), set.levels.data(), set.tie_rank.data(),
                                      static_cast<int64_t>(set.levels.size()), out.raw_data(),
                                      index ? static_cast<int32_t*>(idx.raw_data()) : nullptr);
  if (index) *index = idx;
  return out;
}

}  // namespace sl
