// Reductions over the middle dimension of [outer, extent, inner]. Sums accumulate in double, and
// every output element is computed in a fixed order, so results do not depend on thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/row_sum.h"
#include "backends/reduce_rules.h"

namespace sl::cpu {

namespace {

template <class T>
double sum_row(const T* x, int64_t n) {
  RowSum s;
  s.add(x, n);
  return s.total();
}

template <class T>
void sum_typed(const T* x, ReduceDims d, T* out) {
  if (d.inner == 1) {
    if (d.outer == 1 && sum_chunks(d.extent) > 1) {
      int64_t chunks = sum_chunks(d.extent);
      std::vector<double> part(static_cast<size_t>(chunks));
      parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {
          int64_t s = c * kSumChunk;
          part[static_cast<size_t>(c)] = sum_row(x + s, std::min(kSumChunk, d.extent - s));
        }
      });
      double total = 0;
      for (double v : part) total += v;
      out[0] = static_cast<T>(total);
      return;
    }
    parallel_for(d.outer, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, d.extent)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t o = b; o < e; ++o) out[o] = static_cast<T>(sum_row(x + o * d.extent, d.extent));
                 });
    return;
  }
  // inner > 1: accumulate whole rows of `inner` elements, blocked over inner for parallelism.
  const int64_t block = 1024;
  int64_t nblocks = (d.inner + block - 1) / block;
  int64_t work = d.outer * nblocks;
  int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, d.extent * std::min(block, d.inner)));
  parallel_for(work, grain, [&](int64_t b, int64_t e) {
    std::vector<double> acc(static_cast<size_t>(std::min(block, d.inner)));
    for (int64_t w = b; w < e; ++w) {
      int64_t o = w / nblocks, i0 = (w % nblocks) * block, len = std::min(block, d.inner - i0);
      std::fill(acc.begin(), acc.begin() + len, 0.0);
      const T* base = x + o * d.extent * d.inner + i0;
      for (int64_t r = 0; r < d.extent; ++r) {
        const T* row = base + r * d.inner;
        for (int64_t j = 0; j < len; ++j) acc[static_cast<size_t>(j)] += row[j];
      }
      T* dst = out + o * d.inner + i0;
      for (int64_t j = 0; j < len; ++j) dst[j] = static_cast<T>(acc[static_cast<size_t>(j)]);
    }
  });
}

template <class T>
void max_typed(const T* x, ReduceDims d, T* out, int32_t* index) {
  SL_CHECK(d.extent > 0, "max: cannot reduce an empty dimension");
  int64_t work = d.outer * d.inner;
  parallel_for(work, std::max<int64_t>(1, kElementwiseGrain / d.extent), [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      int64_t o = w / d.inner, i = w % d.inner;
      MaxArg<T> best = scan_max(x + o * d.extent * d.inner + i, d.extent, d.inner);
      out[w] = best.value;
      if (index) index[w] = best.index;
    }
  });
}

void reduce(ReduceOp op, DType dt, const void* x, ReduceDims d, void* out, int32_t* index) {
  dispatch_floating(dt, op == ReduceOp::sum ? "sum" : "max", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    if (op == ReduceOp::sum) {
      sum_typed(xs, d, static_cast<T*>(out));
    } else {
      max_typed(xs, d, static_cast<T*>(out), index);
    }
  });
}

void reduce_max_backward(DType dt, const void* gy, const int32_t* index, ReduceDims d, void* gx) {
  dispatch_floating(dt, "max_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* g = static_cast<const T*>(gy);
    T* out = static_cast<T*>(gx);
    std::fill(out, out + d.outer * d.extent * d.inner, T(0));
    for (int64_t w = 0; w < d.outer * d.inner; ++w) {
      int64_t o = w / d.inner, i = w % d.inner;
      out[(o * d.extent + index[w]) * d.inner + i] = g[w];
    }
  });
}

}  // namespace

void register_reduce(Backend& b) {
  b.reduce = reduce;
  b.reduce_max_backward = reduce_max_backward;
}

}  // namespace sl::cpu
