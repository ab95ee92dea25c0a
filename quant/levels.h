// Level sets of the table-driven quantizers: APoT's additive powers of two (and plain PoT), and
// projection onto a level set with the original code's tie-breaking.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace sl {

struct LevelSet {
  std::vector<double> levels;      // ascending magnitudes in [0, 1], exact float32 values
  std::vector<int32_t> tie_rank;   // on an exact tie the level with the smaller rank wins
};

// APoT's build_power_value(B, additive) with upstream float32 arithmetic (spec §A2): B in [2, 6]
// for additive sets, [1, 5] for plain powers of two (additive = false).
LevelSet apot_levels(int B, bool additive = true);

// The level of `set` nearest to each element of x (which must lie in [0, 1] or below 0, projected
// to 0), and optionally its index. No gradient.
Tensor project_to_levels(const Tensor& x, const LevelSet& set, Tensor* index = nullptr);

}  // namespace sl
