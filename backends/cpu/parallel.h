// Helpers shared by the CPU kernels: dtype dispatch and oneTBB loops with a serial path for small work.
#pragma once
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cstdint>
#include <utility>

#include "backends/dtype_dispatch.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/threads.h"

namespace sl::cpu {

// Calls f(T{}) with T = float or double; other dtypes are an error naming the kernel.
template <class F>
void dispatch_floating(DType dt, const char* kernel, F&& f) {
  sl::dispatch_floating(dt, kernel, Device::cpu, std::forward<F>(f));
}

// Runs f(begin, end) over [0, n) in chunks of at least `grain`; serial when n <= grain, so tiny
// tensors never pay for task scheduling.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain) {
    f(int64_t{0}, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { f(r.begin(), r.end()); });
}

// Element i of a raw buffer of T, or null when the buffer is (optional outputs and inputs of the
// kernels), for handing a chunk of the work to a per-target loop.
template <class T>
T* offset(void* p, int64_t i) {
  return p ? static_cast<T*>(p) + i : nullptr;
}
template <class T>
const T* offset(const void* p, int64_t i) {
  return p ? static_cast<const T*>(p) + i : nullptr;
}

// Elements per task for memory-bound element-wise loops.
constexpr int64_t kElementwiseGrain = 32768;

}  // namespace sl::cpu
