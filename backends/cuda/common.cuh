// Shared by the CUDA kernel files: the backend's one stream, dtype dispatch, grid-stride loops,
// scratch buffers from the caching allocator, deterministic block reductions and the strided
// cuBLAS GEMM (for conv2d).
#pragma once
#include <cstdint>
#include <utility>

#include "backends/cuda/allocator.cuh"
#include "backends/dtype_dispatch.h"
#include "backends/cuda/check.cuh"
#include "backends/cuda/cuda_backend.h"

// for (i over [0, n)) spread over the whole grid, 64-bit indices.
#define SL_CUDA_LOOP(i, n)                                                               \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

namespace sl::cuda {

// The stream every kernel, copy, memset and cuBLAS call of the backend is issued on (memory.cu): a
// non-blocking stream created on first use. One stream keeps the allocator's reuse and the host's
// view of memory simple: work runs in issue order, and copy_to_host / synchronize wait for it.
cudaStream_t stream();

// Calls f(T{}) with T = float or double; other dtypes are an error naming the kernel.
template <class F>
void dispatch_floating(DType dt, const char* kernel, F&& f) {
  sl::dispatch_floating(dt, kernel, Device::cuda, std::forward<F>(f));
}

// Device scratch memory for the duration of a kernel call, from the caching allocator. Returning
// it before the queued kernels ran is safe: the next user of the block is queued after them.
class Scratch {
 public:
  explicit Scratch(size_t nbytes) : ptr_(nbytes ? allocator().allocate(nbytes) : nullptr) {}
  ~Scratch() { allocator().release(ptr_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_;
};

// 2^v, exact for integer v as glibc's exp2 is: the shift quantizers build their power-of-two levels
// with exp2 of rounded exponents, and CUDA's exp2 only promises a few ulps.
template <class T>
__device__ T exact_exp2(T v) {
  if (v == floor(v) && fabs(v) < T(2048)) return ldexp(T(1), static_cast<int>(v));
  return exp2(v);
}

// T((v > 0) - (v < 0)), the CPU's sign: 0 for 0 and NaN.
template <class T>
__device__ T sign_of(T v) {
  return static_cast<T>((v > T(0)) - (v < T(0)));
}

// v < lo ? lo : (v > hi ? hi : v), the CPU's clamp: NaN passes through.
template <class T>
__device__ T clamp_to(T v, T lo, T hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// Threads of the reduction blocks; a power of two.
constexpr int kReduceThreads = 256;

// combine(v of every thread) over the block, in a fixed pairwise tree (so the result depends only
// on the block size and the inputs, never on scheduling). `shared` holds blockDim.x values;
// blockDim.x must be a power of two. Every thread gets the result.
template <class T, class Combine>
__device__ T block_reduce(T v, T* shared, Combine combine) {
  unsigned tid = threadIdx.x;
  shared[tid] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) shared[tid] = combine(shared[tid], shared[tid + s]);
    __syncthreads();
  }
  T r = shared[0];
  __syncthreads();  // shared may be reused right after
  return r;
}

template <class T>
__device__ T block_sum(T v, T* shared) {
  return block_reduce(v, shared, [](T a, T b) { return a + b; });
}

// Threads per block for reducing `extent` values: a power of two in [32, kReduceThreads], chosen
// from the shape alone so results stay reproducible.
inline int reduce_threads(int64_t extent) {
  int t = 32;
  while (t < kReduceThreads && t < extent) t *= 2;
  return t;
}

// Row-major strided-batched GEMM on the stream through cuBLAS (gemm.cu), the `gemm` kernel's
// contract with typed scalars: C[b] = alpha op(A[b]) op(B[b]) + beta C[b].
template <class T>
void gemm_strided(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                  int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc,
                  int64_t stride_c, int64_t batch);

}  // namespace sl::cuda
