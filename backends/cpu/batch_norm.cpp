// Batch normalisation over [n, c, inner], one task per channel. Statistics use double accumulators
// in one pass (sum and sum of squares).
#include <algorithm>
#include <cmath>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

namespace {

// Calls f(segment pointer offset) for the n segments of `inner` elements that make up channel ch.
template <class F>
void for_channel(const BatchNormParams& p, int64_t ch, F f) {
  for (int64_t i = 0; i < p.n; ++i) f((i * p.c + ch) * p.inner);
}

template <class T>
void train_forward(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y, T* mean_out,
                   T* invstd_out, T* rmean, T* rvar) {
  const double m = static_cast<double>(p.n * p.inner);
  tbb::parallel_for(int64_t{0}, p.c, [&](int64_t ch) {
    // One pass for sum and sum of squares, accumulated in double: E[x^2] - mean^2 loses nothing
    // measurable at these magnitudes, and the pass saved matters (batch norm is memory-bound).
    double sum = 0, sumsq = 0;
    for_channel(p, ch, [&](int64_t o) {
      double s1 = 0, s2 = 0;
      for (int64_t j = 0; j < p.inner; ++j) {
        double v = x[o + j];
        s1 += v;
        s2 += v * v;
      }
      sum += s1;
      sumsq += s2;
    });
    double mean = sum / m;
    double sq = std::max(0.0, sumsq - sum * mean);
    double var = sq / m;
    double invstd = 1.0 / std::sqrt(var + p.eps);
    T scale = static_cast<T>(invstd * (gamma ? static_cast<double>(gamma[ch]) : 1.0));
    T shift = static_cast<T>((beta ? static_cast<double>(beta[ch]) : 0.0) - mean * static_cast<double>(scale));
    for_channel(p, ch, [&](int64_t o) {
      for (int64_t j = 0; j < p.inner; ++j) y[o + j] = x[o + j] * scale + shift;
    });
    mean_out[ch] = static_cast<T>(mean);
    invstd_out[ch] = static_cast<T>(invstd);
    if (rmean) rmean[ch] = static_cast<T>((1 - p.momentum) * rmean[ch] + p.momentum * mean);
    if (rvar) {
      double unbiased = m > 1 ? var * m / (m - 1) : var;
      rvar[ch] = static_cast<T>((1 - p.momentum) * rvar[ch] + p.momentum * unbiased);
    }
  });
}

template <class T>
void eval_forward(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, const T* rmean,
                  const T* rvar, T* y) {
  tbb::parallel_for(int64_t{0}, p.c, [&](int64_t ch) {
    double invstd = 1.0 / std::sqrt(static_cast<double>(rvar[ch]) + p.eps);
    T scale = static_cast<T>(invstd * (gamma ? static_cast<double>(gamma[ch]) : 1.0));
    T shift = static_cast<T>((beta ? static_cast<double>(beta[ch]) : 0.0) -
                             static_cast<double>(rmean[ch]) * static_cast<double>(scale));
    for_channel(p, ch, [&](int64_t o) {
      for (int64_t j = 0; j < p.inner; ++j) y[o + j] = x[o + j] * scale + shift;
    });
  });
}

template <class T>
void backward(const BatchNormParams& p, bool train, const T* x, const T* gy, const T* gamma, const T* mean,
              const T* invstd, T* gx, T* ggamma, T* gbeta) {
  const double m = static_cast<double>(p.n * p.inner);
  tbb::parallel_for(int64_t{0}, p.c, [&](int64_t ch) {
    double mu = mean[ch], is = invstd[ch];
    double sum_gy = 0, sum_gy_xhat = 0;
    for_channel(p, ch, [&](int64_t o) {
      for (int64_t j = 0; j < p.inner; ++j) {
        double g = gy[o + j];
        sum_gy += g;
        sum_gy_xhat += g * (x[o + j] - mu) * is;
      }
    });
    if (ggamma) ggamma[ch] = static_cast<T>(sum_gy_xhat);
    if (gbeta) gbeta[ch] = static_cast<T>(sum_gy);
    if (!gx) return;
    double gm = gamma ? static_cast<double>(gamma[ch]) : 1.0;
    if (!train) {
      T k = static_cast<T>(gm * is);
      for_channel(p, ch, [&](int64_t o) {
        for (int64_t j = 0; j < p.inner; ++j) gx[o + j] = gy[o + j] * k;
      });
      return;
    }
    // gx = gamma*invstd * (gy - mean(gy) - xhat * mean(gy*xhat))
    double k = gm * is, mg = sum_gy / m, mgx = sum_gy_xhat / m;
    for_channel(p, ch, [&](int64_t o) {
      for (int64_t j = 0; j < p.inner; ++j) {
        double xhat = (x[o + j] - mu) * is;
        gx[o + j] = static_cast<T>(k * (gy[o + j] - mg - xhat * mgx));
      }
    });
  });
}

void train_forward_any(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                       void* y, void* save_mean, void* save_invstd, void* rmean, void* rvar) {
  dispatch_floating(dt, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    train_forward(p, static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta),
                  static_cast<T*>(y), static_cast<T*>(save_mean), static_cast<T*>(save_invstd),
                  static_cast<T*>(rmean), static_cast<T*>(rvar));
  });
}

void eval_forward_any(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                      const void* rmean, const void* rvar, void* y) {
  dispatch_floating(dt, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    eval_forward(p, static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta),
                 static_cast<const T*>(rmean), static_cast<const T*>(rvar), static_cast<T*>(y));
  });
}

void backward_any(DType dt, const BatchNormParams& p, bool train, const void* x, const void* gy, const void* gamma,
                  const void* mean, const void* invstd, void* gx, void* ggamma, void* gbeta) {
  dispatch_floating(dt, "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    backward(p, train, static_cast<const T*>(x), static_cast<const T*>(gy), static_cast<const T*>(gamma),
             static_cast<const T*>(mean), static_cast<const T*>(invstd), static_cast<T*>(gx),
             static_cast<T*>(ggamma), static_cast<T*>(gbeta));
  });
}

}  // namespace

void register_batch_norm(Backend& b) {
  b.batch_norm_train_forward = train_forward_any;
  b.batch_norm_eval_forward = eval_forward_any;
  b.batch_norm_backward = backward_any;
}

}  // namespace sl::cpu
