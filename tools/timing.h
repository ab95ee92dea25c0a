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

inline Timing time_calls(const std::function<void()>& fn, int warmup = 2, int min_samples = 7, double budget_s = 2.0) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  auto start = clock::now();
  while (static_cast<int>(ms.size()) < min_samples ||
         std::chrono::duration<double>(clock::now() - start).count() < budget_s) {
    auto t0 = clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    if (ms.size() >= 1000) break;
  }
  std::sort(ms.begin(), ms.end());
  return {ms.front(), ms[ms.size() / 2], static_cast<int>(ms.size())};
}

}  // namespace sl::tools
