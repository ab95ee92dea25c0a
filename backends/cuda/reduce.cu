// Reductions over the middle dimension of [outer, extent, inner] (the twins of backends/cpu/reduce.cpp).
// Deterministic by construction, no atomics: sums accumulate in double, either one thread per
// output walking the extent in order (when there are many outputs), or one block per output (and
// per fixed chunk of a long extent) summing in a fixed tree whose shape depends only on the tensor
// shape. Max keeps the CPU's rule: a NaN wins (the first one), otherwise the first maximum.
#include <algorithm>
#include <climits>

#include "backends/cuda/common.cuh"
#include "backends/reduce_rules.h"

namespace sl::cuda {

namespace {

// Outputs at or above this count get one thread each (enough threads to fill the GPU); below it,
// one block each.
constexpr int64_t kThreadPerOutput = 8192;
// Rows per block in the first pass of a long reduction with few outputs, so that it still spreads
// over many SMs (e.g. a bias gradient: 16 outputs of 131072 rows each).
constexpr int64_t kSumChunk = 1 << 14;

template <class T>
__global__ void sum_columns_kernel(const T* x, ReduceDims d, T* out) {
  SL_CUDA_LOOP(w, d.outer * d.inner) {
    int64_t o = w / d.inner, i = w % d.inner;
    const T* p = x + o * d.extent * d.inner + i;
    double acc = 0;
    for (int64_t r = 0; r < d.extent; ++r) acc += static_cast<double>(p[r * d.inner]);
    out[w] = static_cast<T>(acc);
  }
}

// Block per job = (output w, chunk c): the sum of rows [c*chunk, (c+1)*chunk) of output w, written
// to out[job] (job = w * nchunks + c).
template <class In, class Out>
__global__ void sum_blocks_kernel(const In* x, ReduceDims d, int64_t chunk, int64_t nchunks, Out* out) {
  __shared__ double shared[kReduceThreads];
  int64_t jobs = d.outer * d.inner * nchunks;
  for (int64_t job = blockIdx.x; job < jobs; job += gridDim.x) {  // uniform across the block
    int64_t w = job / nchunks, c = job % nchunks, o = w / d.inner, i = w % d.inner;
    int64_t r1 = min(d.extent, (c + 1) * chunk);
    const In* p = x + o * d.extent * d.inner + i;
    double acc = 0;
    for (int64_t r = c * chunk + threadIdx.x; r < r1; r += blockDim.x) acc += static_cast<double>(p[r * d.inner]);
    acc = block_sum(acc, shared);
    if (threadIdx.x == 0) out[job] = static_cast<Out>(acc);
  }
}

unsigned job_blocks(int64_t jobs) { return static_cast<unsigned>(std::min<int64_t>(jobs, 65535 * 16)); }

template <class T>
void sum_typed(const T* x, ReduceDims d, T* out) {
  int64_t outputs = d.outer * d.inner;
  if (outputs >= kThreadPerOutput || d.extent < 32) {
    sum_columns_kernel<T><<<blocks_for(outputs), kThreads, 0, stream()>>>(x, d, out);
    SL_CUDA_CHECK_LAUNCH();
    return;
  }
  int64_t nchunks = (outputs < 1024 && d.extent > kSumChunk) ? (d.extent + kSumChunk - 1) / kSumChunk : 1;
  if (nchunks == 1) {
    sum_blocks_kernel<T, T><<<job_blocks(outputs), reduce_threads(d.extent), 0, stream()>>>(x, d, d.extent, 1, out);
    SL_CUDA_CHECK_LAUNCH();
    return;
  }
  // Two passes: per-chunk partial sums in double, then each output's partials in a fixed tree.
  Scratch partial(static_cast<size_t>(outputs * nchunks) * sizeof(double));
  sum_blocks_kernel<T, double>
      <<<job_blocks(outputs * nchunks), kReduceThreads, 0, stream()>>>(x, d, kSumChunk, nchunks, partial.as<double>());
  SL_CUDA_CHECK_LAUNCH();
  ReduceDims d2{outputs, nchunks, 1};
  sum_blocks_kernel<double, T>
      <<<job_blocks(outputs), reduce_threads(nchunks), 0, stream()>>>(partial.as<double>(), d2, nchunks, 1, out);
  SL_CUDA_CHECK_LAUNCH();
}

// A thread per output: the CPU's scan (backends/reduce_rules.h).
template <class T>
__global__ void max_columns_kernel(const T* x, ReduceDims d, T* out, int32_t* index) {
  SL_CUDA_LOOP(w, d.outer * d.inner) {
    int64_t o = w / d.inner, i = w % d.inner;
    MaxArg<T> best = scan_max(x + o * d.extent * d.inner + i, d.extent, d.inner);
    out[w] = best.value;
    if (index) index[w] = best.index;
  }
}

template <class T>
__global__ void max_blocks_kernel(const T* x, ReduceDims d, T* out, int32_t* index) {
  __shared__ T values[kReduceThreads];
  __shared__ int32_t indices[kReduceThreads];
  int64_t outputs = d.outer * d.inner;
  unsigned tid = threadIdx.x;
  for (int64_t w = blockIdx.x; w < outputs; w += gridDim.x) {
    int64_t o = w / d.inner, i = w % d.inner;
    const T* p = x + o * d.extent * d.inner + i;
    MaxArg<T> best{T(0), -1};
    for (int64_t r = tid; r < d.extent; r += blockDim.x) {
      MaxArg<T> cand{p[r * d.inner], static_cast<int32_t>(r)};
      if (max_beats(cand, best)) best = cand;
    }
    values[tid] = best.value;
    indices[tid] = best.index;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (tid < s) {
        MaxArg<T> a{values[tid], indices[tid]}, b{values[tid + s], indices[tid + s]};
        if (max_beats(b, a)) {
          values[tid] = b.value;
          indices[tid] = b.index;
        }
      }
      __syncthreads();
    }
    if (tid == 0) {
      out[w] = values[0];
      if (index) index[w] = indices[0];
    }
    __syncthreads();
  }
}

template <class T>
void max_typed(const T* x, ReduceDims d, T* out, int32_t* index) {
  SL_CHECK(d.extent > 0, "max: cannot reduce an empty dimension");
  SL_CHECK(d.extent <= INT32_MAX, "max: extent {} does not fit the int32 argmax", d.extent);
  int64_t outputs = d.outer * d.inner;
  if (outputs >= kThreadPerOutput || d.extent < 32) {
    max_columns_kernel<T><<<blocks_for(outputs), kThreads, 0, stream()>>>(x, d, out, index);
  } else {
    max_blocks_kernel<T><<<job_blocks(outputs), reduce_threads(d.extent), 0, stream()>>>(x, d, out, index);
  }
  SL_CUDA_CHECK_LAUNCH();
}

void reduce(ReduceOp op, DType dt, const void* x, ReduceDims d, void* out, int32_t* index) {
  dispatch_floating(dt, op == ReduceOp::sum ? "sum" : "max", [&](auto tag) {
    using T = decltype(tag);
    if (d.outer * d.inner <= 0) return;
    const T* xs = static_cast<const T*>(x);
    if (op == ReduceOp::sum) {
      if (d.extent <= 0) {
        SL_CUDA_CHECK(cudaMemsetAsync(out, 0, static_cast<size_t>(d.outer * d.inner) * sizeof(T), stream()));
        return;
      }
      sum_typed(xs, d, static_cast<T*>(out));
    } else {
      max_typed(xs, d, static_cast<T*>(out), index);
    }
  });
}

// Each output scatters to its own argmax, so no two threads write the same element.
template <class T>
__global__ void max_scatter_kernel(const T* gy, const int32_t* index, ReduceDims d, T* gx) {
  SL_CUDA_LOOP(w, d.outer * d.inner) {
    int64_t o = w / d.inner, i = w % d.inner;
    gx[(o * d.extent + index[w]) * d.inner + i] = gy[w];
  }
}

void reduce_max_backward(DType dt, const void* gy, const int32_t* index, ReduceDims d, void* gx) {
  dispatch_floating(dt, "max_backward", [&](auto tag) {
    using T = decltype(tag);
    int64_t total = d.outer * d.extent * d.inner;
    if (total <= 0) return;
    SL_CUDA_CHECK(cudaMemsetAsync(gx, 0, static_cast<size_t>(total) * sizeof(T), stream()));
    max_scatter_kernel<T><<<blocks_for(d.outer * d.inner), kThreads, 0, stream()>>>(static_cast<const T*>(gy), index, d,
                                                                                    static_cast<T*>(gx));
    SL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_reduce(Backend& b) {
  b.reduce = reduce;
  b.reduce_max_backward = reduce_max_backward;
}

}  // namespace sl::cuda
