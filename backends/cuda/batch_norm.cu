// Batch normalisation over [n, c, inner] (the twin of backends/cpu/batch_norm.cpp). Per-channel
// statistics come from one block per (channel, fixed chunk of its elements): double accumulators,
// two passes per chunk (mean, then squared deviations, as the CPU), a fixed reduction tree; a
// thread per channel then merges the chunks in order, so results are reproducible and a channel of
// a large batch still spreads over many SMs. An element-wise kernel applies the per-channel
// coefficients left in a scratch buffer. Running averages are updated as on the CPU (momentum,
// unbiased variance).
#include <algorithm>

#include "backends/cuda/common.cuh"

namespace sl::cuda {

namespace {

// Coefficients per channel for the element-wise passes.
struct Affine {
  double scale, shift;  // y = x * T(scale) + T(shift)
};
struct GradCoef {
  double k, mean_gy, mean_gy_xhat, mu, invstd;  // gx = k * (gy - mean_gy - xhat * mean_gy_xhat)
};

// A channel's count * inner elements are split into fixed chunks (a function of the shape only, so
// results are reproducible), one block each; chunk statistics are merged per channel in order.
constexpr int64_t kChunk = 16384;

int64_t chunks_of(const BatchNormParams& p) {
  int64_t count = p.n * p.inner;
  return std::clamp<int64_t>((count + kChunk - 1) / kChunk, 1, 1024);
}

// Element e of channel ch: image e / inner, position e % inner.
__device__ inline int64_t at(const BatchNormParams& p, int64_t ch, int64_t e) {
  return (e / p.inner * p.c + ch) * p.inner + e % p.inner;
}

struct Moments {
  double count, mean, m2;  // m2: sum of squared deviations from mean
};

// Block per (channel, chunk): the chunk's mean, then its squared deviations (two passes, as the CPU).
template <class T>
__global__ void moments_kernel(BatchNormParams p, int64_t nchunks, const T* x, Moments* part) {
  __shared__ double shared[kReduceThreads];
  const int64_t count = p.n * p.inner, len = (count + nchunks - 1) / nchunks;
  for (int64_t job = blockIdx.x; job < p.c * nchunks; job += gridDim.x) {  // uniform across the block
    int64_t ch = job / nchunks, e0 = job % nchunks * len, e1 = min(count, e0 + len);
    double cnt = e1 > e0 ? static_cast<double>(e1 - e0) : 0.0;
    double sum = 0;
    for (int64_t e = e0 + threadIdx.x; e < e1; e += blockDim.x) sum += static_cast<double>(x[at(p, ch, e)]);
    sum = block_sum(sum, shared);
    double mean = cnt > 0 ? sum / cnt : 0.0, sq = 0;
    for (int64_t e = e0 + threadIdx.x; e < e1; e += blockDim.x) {
      double d = static_cast<double>(x[at(p, ch, e)]) - mean;
      sq += d * d;
    }
    sq = block_sum(sq, shared);
    if (threadIdx.x == 0) part[job] = {cnt, mean, sq};
  }
}

// Thread per channel: merges the chunks in order (Chan et al.), then the CPU's formulas for the
// saved statistics, the affine coefficients and the running averages.
template <class T>
__global__ void train_stats_kernel(BatchNormParams p, int64_t nchunks, const Moments* part, const T* gamma,
                                   const T* beta, T* mean_out, T* invstd_out, T* rmean, T* rvar, Affine* coef) {
  const double m = static_cast<double>(p.n * p.inner);
  SL_CUDA_LOOP(ch, p.c) {
    double n = 0, mean = 0, m2 = 0;
    for (int64_t k = 0; k < nchunks; ++k) {
      Moments b = part[ch * nchunks + k];
      if (b.count == 0) continue;
      double total = n + b.count, delta = b.mean - mean;
      mean += delta * (b.count / total);
      m2 += b.m2 + delta * delta * (n * b.count / total);
      n = total;
    }
    double var = m2 / m;
    double invstd = 1.0 / sqrt(var + p.eps);
    T scale = static_cast<T>(invstd * (gamma ? static_cast<double>(gamma[ch]) : 1.0));
    T shift = static_cast<T>((beta ? static_cast<double>(beta[ch]) : 0.0) - mean * static_cast<double>(scale));
    coef[ch] = {static_cast<double>(scale), static_cast<double>(shift)};
    mean_out[ch] = static_cast<T>(mean);
    invstd_out[ch] = static_cast<T>(invstd);
    update_running_stats(p, ch, m, mean, var, rmean, rvar);
  }
}

template <class T>
__global__ void eval_coef_kernel(BatchNormParams p, const T* gamma, const T* beta, const T* rmean, const T* rvar,
                                 Affine* coef) {
  SL_CUDA_LOOP(ch, p.c) {
    double invstd = 1.0 / sqrt(static_cast<double>(rvar[ch]) + p.eps);
    T scale = static_cast<T>(invstd * (gamma ? static_cast<double>(gamma[ch]) : 1.0));
    T shift = static_cast<T>((beta ? static_cast<double>(beta[ch]) : 0.0) -
                             static_cast<double>(rmean[ch]) * static_cast<double>(scale));
    coef[ch] = {static_cast<double>(scale), static_cast<double>(shift)};
  }
}

template <class T>
__global__ void affine_kernel(BatchNormParams p, const T* x, const Affine* coef, T* y) {
  SL_CUDA_LOOP(i, p.n * p.c * p.inner) {
    const Affine& a = coef[i / p.inner % p.c];
    y[i] = x[i] * static_cast<T>(a.scale) + static_cast<T>(a.shift);
  }
}

struct GradSums {
  double gy, gy_xhat;
};

// Block per (channel, chunk): sum(gy) and sum(gy * xhat) over the chunk.
template <class T>
__global__ void grad_sums_kernel(BatchNormParams p, int64_t nchunks, const T* x, const T* gy, const T* mean,
                                 const T* invstd, GradSums* part) {
  __shared__ double shared[kReduceThreads];
  const int64_t count = p.n * p.inner, len = (count + nchunks - 1) / nchunks;
  for (int64_t job = blockIdx.x; job < p.c * nchunks; job += gridDim.x) {  // uniform across the block
    int64_t ch = job / nchunks, e0 = job % nchunks * len, e1 = min(count, e0 + len);
    double mu = static_cast<double>(mean[ch]), is = static_cast<double>(invstd[ch]);
    double sum_gy = 0, sum_gy_xhat = 0;
    for (int64_t e = e0 + threadIdx.x; e < e1; e += blockDim.x) {
      int64_t o = at(p, ch, e);
      double g = static_cast<double>(gy[o]);
      sum_gy += g;
      sum_gy_xhat += g * (static_cast<double>(x[o]) - mu) * is;
    }
    sum_gy = block_sum(sum_gy, shared);
    sum_gy_xhat = block_sum(sum_gy_xhat, shared);
    if (threadIdx.x == 0) part[job] = {sum_gy, sum_gy_xhat};
  }
}

// Thread per channel: the chunk sums in order, the parameter gradients, the input-gradient coefficients.
template <class T>
__global__ void backward_stats_kernel(BatchNormParams p, bool train, int64_t nchunks, const GradSums* part,
                                      const T* gamma, const T* mean, const T* invstd, T* ggamma, T* gbeta,
                                      GradCoef* coef) {
  SL_CUDA_LOOP(ch, p.c) {
    double sum_gy = 0, sum_gy_xhat = 0;
    for (int64_t k = 0; k < nchunks; ++k) {
      sum_gy += part[ch * nchunks + k].gy;
      sum_gy_xhat += part[ch * nchunks + k].gy_xhat;
    }
    if (ggamma) ggamma[ch] = static_cast<T>(sum_gy_xhat);
    if (gbeta) gbeta[ch] = static_cast<T>(sum_gy);
    double mu = static_cast<double>(mean[ch]), is = static_cast<double>(invstd[ch]);
    double gm = gamma ? static_cast<double>(gamma[ch]) : 1.0;
    double m = static_cast<double>(p.n * p.inner);
    coef[ch] = train ? GradCoef{gm * is, sum_gy / m, sum_gy_xhat / m, mu, is}
                     : GradCoef{static_cast<double>(static_cast<T>(gm * is)), 0, 0, 0, 0};
  }
}

template <class T>
__global__ void backward_input_kernel(BatchNormParams p, bool train, const T* x, const T* gy, const GradCoef* coef,
                                      T* gx) {
  SL_CUDA_LOOP(i, p.n * p.c * p.inner) {
    const GradCoef& c = coef[i / p.inner % p.c];
    if (train) {
      double xhat = (static_cast<double>(x[i]) - c.mu) * c.invstd;
      gx[i] = static_cast<T>(c.k * (static_cast<double>(gy[i]) - c.mean_gy - xhat * c.mean_gy_xhat));
    } else {
      gx[i] = gy[i] * static_cast<T>(c.k);
    }
  }
}

unsigned job_blocks(int64_t jobs) { return static_cast<unsigned>(std::min<int64_t>(jobs, 65535 * 16)); }

void train_forward_any(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta, void* y,
                       void* save_mean, void* save_invstd, void* rmean, void* rvar) {
  dispatch_floating(dt, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    if (p.c <= 0) return;
    int64_t nchunks = chunks_of(p);
    Scratch part(static_cast<size_t>(p.c * nchunks) * sizeof(Moments));
    Scratch coef(static_cast<size_t>(p.c) * sizeof(Affine));
    moments_kernel<T><<<job_blocks(p.c * nchunks), kReduceThreads, 0, stream()>>>(p, nchunks, static_cast<const T*>(x),
                                                                                  part.as<Moments>());
    SL_CUDA_CHECK_LAUNCH();
    train_stats_kernel<T><<<blocks_for(p.c), kThreads, 0, stream()>>>(
        p, nchunks, part.as<Moments>(), static_cast<const T*>(gamma), static_cast<const T*>(beta),
        static_cast<T*>(save_mean), static_cast<T*>(save_invstd), static_cast<T*>(rmean), static_cast<T*>(rvar),
        coef.as<Affine>());
    SL_CUDA_CHECK_LAUNCH();
    if (p.n * p.inner <= 0) return;
    affine_kernel<T><<<blocks_for(p.n * p.c * p.inner), kThreads, 0, stream()>>>(p, static_cast<const T*>(x),
                                                                                 coef.as<Affine>(), static_cast<T*>(y));
    SL_CUDA_CHECK_LAUNCH();
  });
}

void eval_forward_any(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                      const void* rmean, const void* rvar, void* y) {
  dispatch_floating(dt, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    if (p.n * p.c * p.inner <= 0) return;
    Scratch coef(static_cast<size_t>(p.c) * sizeof(Affine));
    eval_coef_kernel<T><<<blocks_for(p.c), kThreads, 0, stream()>>>(
        p, static_cast<const T*>(gamma), static_cast<const T*>(beta), static_cast<const T*>(rmean),
        static_cast<const T*>(rvar), coef.as<Affine>());
    SL_CUDA_CHECK_LAUNCH();
    affine_kernel<T><<<blocks_for(p.n * p.c * p.inner), kThreads, 0, stream()>>>(p, static_cast<const T*>(x),
                                                                                 coef.as<Affine>(), static_cast<T*>(y));
    SL_CUDA_CHECK_LAUNCH();
  });
}

void backward_any(DType dt, const BatchNormParams& p, bool train, const void* x, const void* gy, const void* gamma,
                  const void* mean, const void* invstd, void* gx, void* ggamma, void* gbeta) {
  dispatch_floating(dt, "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    if (p.c <= 0) return;
    int64_t nchunks = chunks_of(p);
    Scratch part(static_cast<size_t>(p.c * nchunks) * sizeof(GradSums));
    Scratch coef(static_cast<size_t>(p.c) * sizeof(GradCoef));
    grad_sums_kernel<T><<<job_blocks(p.c * nchunks), kReduceThreads, 0, stream()>>>(
        p, nchunks, static_cast<const T*>(x), static_cast<const T*>(gy), static_cast<const T*>(mean),
        static_cast<const T*>(invstd), part.as<GradSums>());
    SL_CUDA_CHECK_LAUNCH();
    backward_stats_kernel<T><<<blocks_for(p.c), kThreads, 0, stream()>>>(
        p, train, nchunks, part.as<GradSums>(), static_cast<const T*>(gamma), static_cast<const T*>(mean),
        static_cast<const T*>(invstd), static_cast<T*>(ggamma), static_cast<T*>(gbeta), coef.as<GradCoef>());
    SL_CUDA_CHECK_LAUNCH();
    if (!gx || p.n * p.inner <= 0) return;
    backward_input_kernel<T><<<blocks_for(p.n * p.c * p.inner), kThreads, 0, stream()>>>(
        p, train, static_cast<const T*>(x), static_cast<const T*>(gy), coef.as<GradCoef>(), static_cast<T*>(gx));
    SL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_batch_norm(Backend& b) {
  b.batch_norm_train_forward = train_forward_any;
  b.batch_norm_eval_forward = eval_forward_any;
  b.batch_norm_backward = backward_any;
}

}  // namespace sl::cuda
