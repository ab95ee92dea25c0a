// Benchmark timing in the convention of ../shared/bench: warm-up calls, then samples until both a
// minimum count and a time budget are reached; report min and median.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace sl::tools {

struct Timing {
  double ms_min = 0, ms_median = 0;
  int samples = 0;
};

// Appends the milliseconds of calls of fn to ms until at least min_samples were added and budget_s
// seconds passed (or ms holds max_samples).
inline void sample_calls(const std::function<void()>& fn, int min_samples, double budget_s, std::vector<double>& ms,
                         size_t max_samples = 1000) {
  using clock = std::chrono::steady_clock;
  const size_t first = ms.size();
  auto start = clock::now();
  while (static_cast<int>(ms.size() - first) < min_samples ||
         std::chrono::duration<double>(clock::now() - start).count() < budget_s) {
    auto t0 = clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    if (ms.size() >= max_samples) break;
  }
}

inline Timing summarize(std::vector<double> ms) {
  if (ms.empty()) return {};
  std::sort(ms.begin(), ms.end());
  return {ms.front(), ms[ms.size() / 2], static_cast<int>(ms.size())};
}

inline Timing time_calls(const std::function<void()>& fn, int warmup = 2, int min_samples = 7, double budget_s = 2.0) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  sample_calls(fn, min_samples, budget_s, ms);
  return summarize(std::move(ms));
}

}  // namespace sl::tools
