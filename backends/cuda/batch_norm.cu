// Batch normalisation over [n, c, inner] (the twin of backends/cpu/batch_norm.cpp). Per-channel
// statistics come from one block per channel: double accumulators, two passes (mean, then squared
// deviations), a fixed reduction tree, so they are reproducible. A second, element-wise kernel then
// applies the per-channel coefficients the statistics kernel left in a scratch buffer. Running
// averages are updated as on the CPU (momentum, unbiased variance).
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

template <class T>
__global__ void train_stats_kernel(BatchNormParams p, const T* x, const T* gamma, const T* beta, T* mean_out,
                                   T* invstd_out, T* rmean, T* rvar, Affine* coef) {
  __shared__ double shared[kReduceThreads];
  const int64_t count = p.n * p.inner;
  const double m = static_cast<double>(count);
  for (int64_t ch = blockIdx.x; ch < p.c; ch += gridDim.x) {  // uniform across the block
    double sum = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x)
      sum += static_cast<double>(x[(e / p.inner * p.c + ch) * p.inner + e % p.inner]);
    double mean = block_sum(sum, shared) / m, sq = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      double d = static_cast<double>(x[(e / p.inner * p.c + ch) * p.inner + e % p.inner]) - mean;
      sq += d * d;
    }
    double var = block_sum(sq, shared) / m;
    if (threadIdx.x == 0) {
      double invstd = 1.0 / sqrt(var + p.eps);
      T scale = static_cast<T>(invstd * (gamma ? static_cast<double>(gamma[ch]) : 1.0));
      T shift = static_cast<T>((beta ? static_cast<double>(beta[ch]) : 0.0) - mean * static_cast<double>(scale));
      coef[ch] = {static_cast<double>(scale), static_cast<double>(shift)};
      mean_out[ch] = static_cast<T>(mean);
      invstd_out[ch] = static_cast<T>(invstd);
      if (rmean) rmean[ch] = static_cast<T>((1 - p.momentum) * rmean[ch] + p.momentum * mean);
      if (rvar) {
        double unbiased = m > 1 ? var * m / (m - 1) : var;
        rvar[ch] = static_cast<T>((1 - p.momentum) * rvar[ch] + p.momentum * unbiased);
      }
    }
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

template <class T>
__global__ void backward_stats_kernel(BatchNormParams p, bool train, const T* x, const T* gy, const T* gamma,
                                      const T* mean, const T* invstd, T* ggamma, T* gbeta, GradCoef* coef) {
  __shared__ double shared[kReduceThreads];
  const int64_t count = p.n * p.inner;
  for (int64_t ch = blockIdx.x; ch < p.c; ch += gridDim.x) {  // uniform across the block
    double mu = static_cast<double>(mean[ch]), is = static_cast<double>(invstd[ch]);
    double sum_gy = 0, sum_gy_xhat = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      int64_t o = (e / p.inner * p.c + ch) * p.inner + e % p.inner;
      double g = static_cast<double>(gy[o]);
      sum_gy += g;
      sum_gy_xhat += g * (static_cast<double>(x[o]) - mu) * is;
    }
    sum_gy = block_sum(sum_gy, shared);
    sum_gy_xhat = block_sum(sum_gy_xhat, shared);
    if (threadIdx.x == 0) {
      if (ggamma) ggamma[ch] = static_cast<T>(sum_gy_xhat);
      if (gbeta) gbeta[ch] = static_cast<T>(sum_gy);
      double gm = gamma ? static_cast<double>(gamma[ch]) : 1.0;
      double m = static_cast<double>(count);
      coef[ch] = train ? GradCoef{gm * is, sum_gy / m, sum_gy_xhat / m, mu, is}
                       : GradCoef{static_cast<double>(static_cast<T>(gm * is)), 0, 0, 0, 0};
    }
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

unsigned channel_blocks(int64_t c) { return static_cast<unsigned>(std::min<int64_t>(c, 65535 * 16)); }

void train_forward_any(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                       void* y, void* save_mean, void* save_invstd, void* rmean, void* rvar) {
  dispatch_floating(dt, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    if (p.c <= 0) return;
    Scratch coef(static_cast<size_t>(p.c) * sizeof(Affine));
    train_stats_kernel<T><<<channel_blocks(p.c), kReduceThreads, 0, stream()>>>(
        p, static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta),
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
    Scratch coef(static_cast<size_t>(p.c) * sizeof(GradCoef));
    backward_stats_kernel<T><<<channel_blocks(p.c), kReduceThreads, 0, stream()>>>(
        p, train, static_cast<const T*>(x), static_cast<const T*>(gy), static_cast<const T*>(gamma),
        static_cast<const T*>(mean), static_cast<const T*>(invstd), static_cast<T*>(ggamma), static_cast<T*>(gbeta),
        coef.as<GradCoef>());
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
