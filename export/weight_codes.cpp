#include "export/weight_codes.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace sl {

namespace {

// Relative tolerance for "an integer multiple": the effective weights are products of float
// scales, so exact levels carry a few ulps.
constexpr double kTolerance = 1e-4;
// The deploy runtime's weight ranges (deploy/kernels/kernels.h): narrow layers (every shift
// family's) run in one pass on every target, wider ones up to 8-bit integers.
constexpr int kNarrowSteps = 64;
constexpr int kMaxSteps = 127;

bool is_integer(double v) { return std::fabs(v - std::nearbyint(v)) <= kTolerance; }

// The smallest step count t <= limit such that every |w| / max * t is an integer, or 0.
int exact_steps(const std::set<float>& magnitudes, float max, int limit) {
  for (int t = 1; t <= limit; ++t) {
    bool ok = true;
    for (float m : magnitudes)
      if (!is_integer(static_cast<double>(m) / max * t)) {
        ok = false;
        break;
      }
    if (ok) return t;
  }
  return 0;
}

// Every |w| / max a power of two (a shift channel, possibly spanning more than 7 exponents).
bool powers_of_two(const std::set<float>& magnitudes, float max) {
  for (float m : magnitudes) {
    const double e = std::log2(static_cast<double>(m) / max);
    if (std::fabs(e - std::nearbyint(e)) > kTolerance) return false;
  }
  return true;
}

}  // namespace

ChannelCodes integer_codes(const std::vector<float>& w, int64_t rows, int64_t cols) {
  ChannelCodes out;
  out.q.resize(w.size());
  out.scale.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w.data() + r * cols;
    int8_t* q = out.q.data() + r * cols;
    float max = 0;
    std::set<float> magnitudes;
    for (int64_t i = 0; i < cols; ++i) {
      max = std::max(max, std::fabs(row[i]));
      if (row[i] != 0) magnitudes.insert(std::fabs(row[i]));
    }
    if (max == 0 || !std::isfinite(max)) {
      std::fill(q, q + cols, 0);
      out.scale[static_cast<size_t>(r)] = 1;
      continue;
    }
    int steps = exact_steps(magnitudes, max, kMaxSteps);
    const bool exact = steps > 0;
    if (!exact) {
      // A shift channel keeps its 7 largest exponents exactly and stays narrow; others take 8 bits.
      steps = powers_of_two(magnitudes, max) ? kNarrowSteps : kMaxSteps;
      ++out.inexact_rows;
    }
    const float scale = max / static_cast<float>(steps);
    out.scale[static_cast<size_t>(r)] = scale;
    for (int64_t i = 0; i < cols; ++i) {
      const double v = static_cast<double>(row[i]) / max * steps;
      const auto code = static_cast<int8_t>(std::nearbyint(v));
      q[i] = code;
      if (!exact && std::fabs(v - code) > kTolerance) {
        ++out.rounded;
        if (code == 0 && row[i] != 0) ++out.zeroed;
        out.max_relative_error = std::max(out.max_relative_error, std::fabs(v - code) / steps);
      }
    }
  }
  return out;
}

}  // namespace sl
