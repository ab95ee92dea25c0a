// Softmax / log-softmax over the middle of [outer, extent, inner], and fused cross-entropy on int32
// labels (the twins of backends/cpu/softmax.cpp, same formulas: max-shifted exponentials summed in
// double). Rows along the last dimension get one block each (fixed reduction trees); strided rows
// (inner > 1) get one thread each, walking the row in order as the CPU does.
#include <algorithm>
#include <climits>

#include "backends/cuda/common.cuh"
#include "backends/softmax_entry.h"

namespace sl::cuda {

namespace {

// std::max(a, b) as the CPU calls it: NaNs never replace the running maximum.
template <class T>
__device__ T cpu_max(T a, T b) {
  return a < b ? b : a;
}

template <class T>
__device__ T block_max(T v, T* shared) {
  return block_reduce(v, shared, [](T a, T b) { return cpu_max(a, b); });
}

// Block per row of a [rows, extent] matrix (inner == 1).
template <class T>
__global__ void softmax_rows_kernel(bool log, const T* x, int64_t rows, int64_t extent, T* y) {
  __shared__ T tmax[kReduceThreads];
  __shared__ double tsum[kReduceThreads];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {  // uniform across the block
    const T* xp = x + row * extent;
    T* yp = y + row * extent;
    T mx = static_cast<T>(-INFINITY);
    for (int64_t r = threadIdx.x; r < extent; r += blockDim.x) mx = cpu_max(mx, xp[r]);
    mx = block_max(mx, tmax);
    double sum = 0;
    for (int64_t r = threadIdx.x; r < extent; r += blockDim.x) sum += exp(static_cast<double>(xp[r] - mx));
    sum = block_sum(sum, tsum);
    if (log) {
      T lse = static_cast<T>(::log(sum));
      for (int64_t r = threadIdx.x; r < extent; r += blockDim.x) yp[r] = xp[r] - mx - lse;
    } else {
      for (int64_t r = threadIdx.x; r < extent; r += blockDim.x)
        yp[r] = static_cast<T>(exp(static_cast<double>(xp[r] - mx)) / sum);
    }
  }
}

// Thread per (outer, inner) pair: the CPU's loop.
template <class T>
__global__ void softmax_strided_kernel(bool log, const T* x, ReduceDims d, T* y) {
  SL_CUDA_LOOP(w, d.outer * d.inner) {
    int64_t base = (w / d.inner) * d.extent * d.inner + w % d.inner;
    const T* xp = x + base;
    T* yp = y + base;
    T mx = static_cast<T>(-INFINITY);
    for (int64_t r = 0; r < d.extent; ++r) mx = cpu_max(mx, xp[r * d.inner]);
    double sum = 0;
    for (int64_t r = 0; r < d.extent; ++r) sum += exp(static_cast<double>(xp[r * d.inner] - mx));
    if (log) {
      T lse = static_cast<T>(::log(sum));
      for (int64_t r = 0; r < d.extent; ++r) yp[r * d.inner] = xp[r * d.inner] - mx - lse;
    } else {
      for (int64_t r = 0; r < d.extent; ++r)
        yp[r * d.inner] = static_cast<T>(exp(static_cast<double>(xp[r * d.inner] - mx)) / sum);
    }
  }
}

template <class T>
__global__ void softmax_backward_rows_kernel(bool log, const T* y, const T* gy, int64_t rows, int64_t extent, T* gx) {
  __shared__ double tsum[kReduceThreads];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {  // uniform across the block
    int64_t base = row * extent;
    double s = 0;
    for (int64_t r = threadIdx.x; r < extent; r += blockDim.x)
      s += log ? static_cast<double>(gy[base + r]) : static_cast<double>(gy[base + r] * y[base + r]);
    s = block_sum(s, tsum);
    for (int64_t r = threadIdx.x; r < extent; r += blockDim.x) {
      int64_t k = base + r;
      gx[k] = log ? static_cast<T>(gy[k] - exp(static_cast<double>(y[k])) * s) : static_cast<T>(y[k] * (gy[k] - s));
    }
  }
}

template <class T>
__global__ void softmax_backward_strided_kernel(bool log, const T* y, const T* gy, ReduceDims d, T* gx) {
  SL_CUDA_LOOP(w, d.outer * d.inner) {
    int64_t base = (w / d.inner) * d.extent * d.inner + w % d.inner;
    double s = 0;
    for (int64_t r = 0; r < d.extent; ++r) {
      int64_t k = base + r * d.inner;
      s += log ? static_cast<double>(gy[k]) : static_cast<double>(gy[k] * y[k]);
    }
    for (int64_t r = 0; r < d.extent; ++r) {
      int64_t k = base + r * d.inner;
      gx[k] = log ? static_cast<T>(gy[k] - exp(static_cast<double>(y[k])) * s) : static_cast<T>(y[k] * (gy[k] - s));
    }
  }
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(std::min<int64_t>(rows, 65535 * 16)); }

// The typed launches; backends/softmax_entry.h makes the table slots of them.
struct SoftmaxKernels {
  static constexpr Device device = Device::cuda;

  template <class T>
  static void forward(bool log, const T* x, ReduceDims d, T* y) {
    if (d.outer * d.inner <= 0 || d.extent <= 0) return;
    if (d.inner == 1) {
      softmax_rows_kernel<T>
          <<<row_blocks(d.outer), reduce_threads(d.extent), 0, stream()>>>(log, x, d.outer, d.extent, y);
    } else {
      softmax_strided_kernel<T><<<blocks_for(d.outer * d.inner), kThreads, 0, stream()>>>(log, x, d, y);
    }
    SL_CUDA_CHECK_LAUNCH();
  }

  template <class T>
  static void backward(bool log, const T* y, const T* gy, ReduceDims d, T* gx) {
    if (d.outer * d.inner <= 0 || d.extent <= 0) return;
    if (d.inner == 1) {
      softmax_backward_rows_kernel<T>
          <<<row_blocks(d.outer), reduce_threads(d.extent), 0, stream()>>>(log, y, gy, d.outer, d.extent, gx);
    } else {
      softmax_backward_strided_kernel<T><<<blocks_for(d.outer * d.inner), kThreads, 0, stream()>>>(log, y, gy, d, gx);
    }
    SL_CUDA_CHECK_LAUNCH();
  }
};

// The smallest index of a label outside [0, c): atomicMin is order-independent, so the answer is
// exactly the CPU's "first bad label".
__global__ void check_labels_kernel(const int32_t* labels, int64_t n, int64_t c, unsigned long long* first_bad) {
  SL_CUDA_LOOP(i, n) {
    if (labels[i] < 0 || labels[i] >= c) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

// One block: loss_i = -(1 - s) lp[i, y_i] - (s / c) sum_j lp[i, j], summed in double in a fixed
// tree, then divided by n.
template <class T>
__global__ void cross_entropy_loss_kernel(const T* lp, const int32_t* labels, int64_t n, int64_t c, double smoothing,
                                          T* loss) {
  __shared__ double tsum[kReduceThreads];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const T* row = lp + i * c;
    double l = -(1.0 - smoothing) * static_cast<double>(row[labels[i]]);
    if (smoothing != 0) {
      double s = 0;
      for (int64_t j = 0; j < c; ++j) s += static_cast<double>(row[j]);
      l -= smoothing / static_cast<double>(c) * s;
    }
    acc += l;
  }
  acc = block_sum(acc, tsum);
  if (threadIdx.x == 0) *loss = static_cast<T>(n > 0 ? acc / static_cast<double>(n) : 0.0);
}

int64_t cross_entropy_forward(DType dt, const void* logits, const int32_t* labels, int64_t n, int64_t c,
                              double smoothing, void* loss, void* logprobs) {
  if (n > 0) {
    Scratch flag(sizeof(unsigned long long));
    SL_CUDA_CHECK(cudaMemsetAsync(flag.as<void>(), 0xff, sizeof(unsigned long long), stream()));  // "none"
    check_labels_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(labels, n, c, flag.as<unsigned long long>());
    SL_CUDA_CHECK_LAUNCH();
    unsigned long long first_bad = 0;
    SL_CUDA_CHECK(cudaMemcpyAsync(&first_bad, flag.as<void>(), sizeof first_bad, cudaMemcpyDeviceToHost, stream()));
    SL_CUDA_CHECK(cudaStreamSynchronize(stream()));
    if (first_bad != ULLONG_MAX) return static_cast<int64_t>(first_bad);
  }
  dispatch_floating(dt, "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    T* lp = static_cast<T*>(logprobs);
    SoftmaxKernels::forward(true, static_cast<const T*>(logits), ReduceDims{n, c, 1}, lp);
    cross_entropy_loss_kernel<T>
        <<<1, kReduceThreads, 0, stream()>>>(lp, labels, n, c, smoothing, static_cast<T*>(loss));
    SL_CUDA_CHECK_LAUNCH();
  });
  return -1;
}

// gloss stays on the device: the kernel reads it, so backward never waits for the host.
template <class T>
__global__ void cross_entropy_backward_kernel(const T* lp, const int32_t* labels, int64_t n, int64_t c,
                                              double smoothing, const T* gloss, T* gx) {
  double scale = static_cast<double>(*gloss) / static_cast<double>(n);
  double uniform = smoothing / static_cast<double>(c);
  SL_CUDA_LOOP(k, n * c) {
    int64_t i = k / c, j = k % c;
    double target = uniform + (j == labels[i] ? 1.0 - smoothing : 0.0);
    gx[k] = static_cast<T>(scale * (exp(static_cast<double>(lp[k])) - target));
  }
}

void cross_entropy_backward(DType dt, const void* logprobs, const int32_t* labels, int64_t n, int64_t c,
                            double smoothing, const void* gloss, void* gx) {
  dispatch_floating(dt, "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    if (n * c <= 0) return;
    cross_entropy_backward_kernel<T><<<blocks_for(n * c), kThreads, 0, stream()>>>(
        static_cast<const T*>(logprobs), labels, n, c, smoothing, static_cast<const T*>(gloss), static_cast<T*>(gx));
    SL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_softmax(Backend& b) {
  register_softmax_entries<SoftmaxKernels>(b, cross_entropy_forward, cross_entropy_backward);
}

}  // namespace sl::cuda
