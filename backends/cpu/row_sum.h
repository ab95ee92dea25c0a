// The order in which the CPU sums a row of n values (reduce.cpp's sum, and kernels that sum as they
// go and must give its bits): four double accumulators take the values in turn, the last n % 4 go to
// the first, and the result is (a0 + a1) + (a2 + a3). A row longer than 2 * kSumChunk is summed in
// chunks of kSumChunk that way, the chunk sums then added in order from 0, so the result does not
// depend on how many threads share the chunks.
#pragma once
#include <cstdint>

namespace sl::cpu {

constexpr int64_t kSumChunk = 1 << 16;

inline int64_t sum_chunks(int64_t n) { return n > 2 * kSumChunk ? (n + kSumChunk - 1) / kSumChunk : 1; }

struct RowSum {
  double acc[4] = {0, 0, 0, 0};

  // The next n values of the row; n is a multiple of 4 except in the row's last call.
  template <class T>
  void add(const T* x, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      acc[0] += x[i];
      acc[1] += x[i + 1];
      acc[2] += x[i + 2];
      acc[3] += x[i + 3];
    }
    for (; i < n; ++i) acc[0] += x[i];
  }

  double total() const { return (acc[0] + acc[1]) + (acc[2] + acc[3]); }
};

}  // namespace sl::cpu
