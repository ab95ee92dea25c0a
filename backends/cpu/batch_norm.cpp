// Batch normalisation over [n, c, inner], in parallel over blocks of channels (and over planes when
// the channels are fewer than the threads). The per-plane loops
// are the per-target kernels of simd/norm_kernels.cpp: sums in 16 lanes, combined in double once per
// plane; values are taken relative to a per-channel pivot so the one-pass variance does not cancel.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/simd/kernels.h"

namespace sl::cpu {

namespace {

// Runs f(c0, c1) over blocks of channels in parallel. Inside a block the kernels walk image by image
// through the block's channels, so memory is read in runs of (c1 - c0) * inner elements rather than
// one plane per channel (planes are only 64 floats in ResNet-20's last stage). Blocks are as small as
// runs of about 1024 elements allow: a block's two passes (sums, then normalise or gradient) read the
// same n * (c1 - c0) * inner values, which then stay in cache for the second pass (a 128-image batch
// of 32x32 planes: 512 KB per array). Each channel's sums still run in a fixed order, so results do
// not depend on the blocking or the thread count.
template <class F>
void for_channel_blocks(const BatchNormParams& p, F f) {
  const int64_t per_block = std::max<int64_t>(1, 1024 / std::max<int64_t>(1, p.inner));
  const int64_t blocks = std::max<int64_t>(std::min<int64_t>(p.c, 4 * num_threads()), p.c / per_block);
  tbb::parallel_for(int64_t{0}, blocks, [&](int64_t b) { f(p.c * b / blocks, p.c * (b + 1) / blocks); });
}

// Offset of plane (image i, channel ch).
inline int64_t plane(const BatchNormParams& p, int64_t i, int64_t ch) { return (i * p.c + ch) * p.inner; }

// With fewer channels than threads (APoT's standardize is one channel), a block also splits its
// planes over the threads.
bool split_planes(const BatchNormParams& p) { return num_threads() > 1 && p.c < num_threads() && p.n > 1; }

// f(i, ch) for every plane of channels [c0, c1): image by image, or in parallel when `split`.
template <class F>
void for_planes(const BatchNormParams& p, int64_t c0, int64_t c1, bool split, F f) {
  const int64_t nc = c1 - c0;
  if (!split) {
    for (int64_t i = 0; i < p.n; ++i)
      for (int64_t ch = c0; ch < c1; ++ch) f(i, ch);
    return;
  }
  parallel_for(p.n * nc, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, p.inner)),
               [&](int64_t b, int64_t e) {
                 for (int64_t w = b; w < e; ++w) f(w / nc, c0 + w % nc);
               });
}

// s1[ch - c0] and s2[ch - c0] += the sums sums(i, ch, a, b) adds of each plane, image by image. Split,
// each plane's sums are taken in parallel from 0 and then added in image order: the same additions,
// so the same bits.
template <class PlaneSums>
void channel_sums(const BatchNormParams& p, int64_t c0, int64_t c1, bool split, std::vector<double>& s1,
                  std::vector<double>& s2, PlaneSums sums) {
  const int64_t nc = c1 - c0;
  if (!split) {
    for_planes(p, c0, c1, false, [&](int64_t i, int64_t ch) { sums(i, ch, s1[size_t(ch - c0)], s2[size_t(ch - c0)]); });
    return;
  }
  std::vector<double> q1(static_cast<size_t>(p.n * nc), 0.0), q2(q1.size(), 0.0);
  for_planes(p, c0, c1, true, [&](int64_t i, int64_t ch) {
    const size_t w = static_cast<size_t>(i * nc + ch - c0);
    sums(i, ch, q1[w], q2[w]);
  });
  for (int64_t i = 0; i < p.n; ++i)
    for (int64_t k = 0; k < nc; ++k) {
      s1[size_t(k)] += q1[size_t(i * nc + k)];
      s2[size_t(k)] += q2[size_t(i * nc + k)];
    }
}

// What follows the normalisation in the same pass.
struct After {
  bool relu = false;
  const void* residual = nullptr;  // added before the ReLU (relu is then set)
};

// y = (x - mean) * scale + beta per channel of [c0, c1), then `after`. Centring first keeps f32
// precise when the mean is large against the spread (x * scale + shift would cancel).
template <class T>
void normalize(const BatchNormParams& p, int64_t c0, int64_t c1, const T* x, const T* mean, const T* scale,
               const T* beta, T* y, After after = {}) {
  const TypedKernels<T>& k = simd().typed<T>();
  const T* res = static_cast<const T*>(after.residual);
  const auto kernel = after.relu ? k.bn_normalize_relu : k.bn_normalize;
  for_planes(p, c0, c1, split_planes(p), [&](int64_t i, int64_t ch) {
    const int64_t o = plane(p, i, ch);
    const T mu = mean[ch - c0], sc = scale[ch - c0], b = beta ? beta[ch] : T(0);
    if (res)
      k.bn_normalize_add_relu(x + o, p.inner, mu, sc, b, res + o, y + o);
    else
      kernel(x + o, p.inner, mu, sc, b, y + o);
  });
}

// gamma * invstd for channel ch, from the saved (rounded) invstd: the training forward's scale and
// the backward's a. Computing both from the same saved values lets batch_norm_relu_backward
// recompute the forward's pre-ReLU values exactly and take ReLU's mask from x.
template <class T>
double gamma_invstd(const T* gamma, int64_t ch, T invstd) {
  return (gamma ? static_cast<double>(gamma[ch]) : 1.0) * static_cast<double>(invstd);
}

template <class T>
void train_forward(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y, T* mean_out,
                   T* invstd_out, T* rmean, T* rvar, After after = {}) {
  const double m = static_cast<double>(p.n * p.inner);
  for_channel_blocks(p, [&](int64_t c0, int64_t c1) {
    const size_t nc = static_cast<size_t>(c1 - c0);
    // One pass for the sum and sum of squares of x - pivot (the channel's first value: it brings the
    // values near zero, so E[u^2] - E[u]^2 keeps its precision).
    std::vector<double> sum(nc), sumsq(nc);
    std::vector<T> mean_t(nc), scale(nc);
    const auto lane_sums = simd().typed<T>().bn_sums;
    channel_sums(p, c0, c1, split_planes(p), sum, sumsq, [&](int64_t i, int64_t ch, double& s1, double& s2) {
      const T pivot = x[plane(p, 0, ch)];
      const int64_t o = plane(p, i, ch);
      lane_sums(x + o, pivot, x + o, pivot, p.inner, s1, s2);
    });
    for (int64_t ch = c0; ch < c1; ++ch) {
      const size_t k = static_cast<size_t>(ch - c0);
      double mean_u = sum[k] / m;
      double var = std::max(0.0, sumsq[k] / m - mean_u * mean_u);
      double mean = mean_u + static_cast<double>(x[plane(p, 0, ch)]);
      const T invstd = static_cast<T>(1.0 / std::sqrt(var + p.eps));
      mean_t[k] = static_cast<T>(mean);
      scale[k] = static_cast<T>(gamma_invstd(gamma, ch, invstd));
      mean_out[ch] = static_cast<T>(mean);
      invstd_out[ch] = invstd;
      update_running_stats(p, ch, m, mean, var, rmean, rvar);
    }
    normalize(p, c0, c1, x, mean_t.data(), scale.data(), beta, y, after);
  });
}

template <class T>
void eval_forward(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, const T* rmean,
                  const T* rvar, T* y) {
  for_channel_blocks(p, [&](int64_t c0, int64_t c1) {
    std::vector<T> mean_t(rmean + c0, rmean + c1), scale(static_cast<size_t>(c1 - c0));
    for (int64_t ch = c0; ch < c1; ++ch)
      scale[size_t(ch - c0)] = static_cast<T>((gamma ? static_cast<double>(gamma[ch]) : 1.0) /
                                              std::sqrt(static_cast<double>(rvar[ch]) + p.eps));
    normalize(p, c0, c1, x, mean_t.data(), scale.data(), beta, y);
  });
}

// With `relu` (batch_norm_relu_backward), gy is first masked in registers to the forward's
// (x - mean) * scale + beta > 0, recomputed from x: scale is the backward's a, as train_forward
// computes it.
template <class T>
void backward(const BatchNormParams& p, bool train, const T* x, const T* gy, const T* gamma, const T* mean,
              const T* invstd, T* gx, T* ggamma, T* gbeta, bool relu = false, const T* beta = nullptr) {
  const double m = static_cast<double>(p.n * p.inner);
  for_channel_blocks(p, [&](int64_t c0, int64_t c1) {
    const size_t nc = static_cast<size_t>(c1 - c0);
    // sum(gy) and sum(gy * (x - mean)); the latter times invstd is sum(gy * xhat).
    std::vector<double> sum_gy(nc), sum_gy_xc(nc);
    const TypedKernels<T>& kern = simd().typed<T>();
    const bool split = split_planes(p);
    // gx = gamma*invstd * (gy - mean(gy) - xhat * mean(gy*xhat)) = a*gy + b*(x - mean) + c; in
    // evaluation mode the statistics are constants and gx = gamma*invstd * gy. a is also the
    // forward's scale, which ReLU's mask needs in the sums.
    std::vector<T> a(nc), b(nc), c(nc);
    for (int64_t ch = c0; ch < c1; ++ch) a[size_t(ch - c0)] = static_cast<T>(gamma_invstd(gamma, ch, invstd[ch]));
    auto beta_of = [&](int64_t ch) { return beta ? beta[ch] : T(0); };
    channel_sums(p, c0, c1, split, sum_gy, sum_gy_xc, [&](int64_t i, int64_t ch, double& s1, double& s2) {
      const int64_t o = plane(p, i, ch);
      if (relu)
        kern.bn_relu_sums(gy + o, x + o, mean[ch], a[size_t(ch - c0)], beta_of(ch), p.inner, s1, s2);
      else
        kern.bn_sums(gy + o, T(0), x + o, mean[ch], p.inner, s1, s2);
    });
    for (int64_t ch = c0; ch < c1; ++ch) {
      const size_t k = static_cast<size_t>(ch - c0);
      const double is = invstd[ch], sum_gy_xhat = sum_gy_xc[k] * is;
      if (ggamma) ggamma[ch] = static_cast<T>(sum_gy_xhat);
      if (gbeta) gbeta[ch] = static_cast<T>(sum_gy[k]);
      const double scale = gamma_invstd(gamma, ch, invstd[ch]);
      b[k] = train ? static_cast<T>(-scale * sum_gy_xhat / m * is) : T(0);
      c[k] = train ? static_cast<T>(-scale * sum_gy[k] / m) : T(0);
    }
    if (!gx) return;
    for_planes(p, c0, c1, split, [&](int64_t i, int64_t ch) {
      const int64_t o = plane(p, i, ch);
      const size_t k = static_cast<size_t>(ch - c0);
      if (relu)
        kern.bn_relu_backward(gy + o, x + o, p.inner, a[k], b[k], mean[ch], c[k], beta_of(ch), gx + o);
      else
        kern.bn_backward(gy + o, x + o, p.inner, a[k], b[k], mean[ch], c[k], gx + o);
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

void relu_train_forward_any(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                            void* y, void* save_mean, void* save_invstd, void* rmean, void* rvar) {
  dispatch_floating(dt, "batch_norm_relu", [&](auto tag) {
    using T = decltype(tag);
    train_forward(p, static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta),
                  static_cast<T*>(y), static_cast<T*>(save_mean), static_cast<T*>(save_invstd),
                  static_cast<T*>(rmean), static_cast<T*>(rvar), After{true, nullptr});
  });
}

void add_relu_train_forward_any(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                                const void* residual, void* y, void* save_mean, void* save_invstd, void* rmean,
                                void* rvar) {
  dispatch_floating(dt, "batch_norm_add_relu", [&](auto tag) {
    using T = decltype(tag);
    train_forward(p, static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta),
                  static_cast<T*>(y), static_cast<T*>(save_mean), static_cast<T*>(save_invstd),
                  static_cast<T*>(rmean), static_cast<T*>(rvar), After{true, residual});
  });
}

void relu_backward_any(DType dt, const BatchNormParams& p, const void* x, const void* gy, const void* gamma,
                       const void* beta, const void* mean, const void* invstd, void* gx, void* ggamma, void* gbeta) {
  dispatch_floating(dt, "batch_norm_relu_backward", [&](auto tag) {
    using T = decltype(tag);
    backward(p, true, static_cast<const T*>(x), static_cast<const T*>(gy), static_cast<const T*>(gamma),
             static_cast<const T*>(mean), static_cast<const T*>(invstd), static_cast<T*>(gx),
             static_cast<T*>(ggamma), static_cast<T*>(gbeta), true, static_cast<const T*>(beta));
  });
}

}  // namespace

void register_batch_norm(Backend& b) {
  b.batch_norm_train_forward = train_forward_any;
  b.batch_norm_eval_forward = eval_forward_any;
  b.batch_norm_backward = backward_any;
  b.batch_norm_relu_train_forward = relu_train_forward_any;
  b.batch_norm_relu_backward = relu_backward_any;
  b.batch_norm_add_relu_train_forward = add_relu_train_forward_any;
}

}  // namespace sl::cpu
