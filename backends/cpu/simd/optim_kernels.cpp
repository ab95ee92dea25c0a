// The optimizers' update loops, compiled per SIMD target. They are written as plain loops over
// std::fma, which is exactly rounded everywhere: on targets with FMA (AVX2, AVX-512, NEON) it is one
// instruction, and the compiler vectorises what it can; without (SSE4, scalar) it is the C library's
// correctly rounded fma. Either way every target computes the same bits, the formulas PyTorch's
// vectorised CPU optimizers use.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/optim_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/simd/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {

namespace {

// A moment that has decayed below the smallest normal value becomes 0. Weights whose gradient stays
// 0 (common in shift networks) would otherwise keep subnormal moments, and subnormal arithmetic is
// ~100x slower on x86 (a DeepShift-PS run slowed down 40 % over 5 epochs). The effect on the update
// is below 1e-30.
template <class T>
HWY_INLINE T FlushSubnormal(T x) {
  return std::abs(x) < std::numeric_limits<T>::min() ? T(0) : x;
}

template <class T>
void SgdStepRange(const SgdStep& s, T* HWY_RESTRICT p, const T* HWY_RESTRICT g, T* HWY_RESTRICT b, int64_t n) {
  const T wd = static_cast<T>(s.weight_decay), mu = static_cast<T>(s.momentum);
  const T damp = static_cast<T>(1 - s.dampening), neg_lr = static_cast<T>(s.neg_lr);
  const bool decay = s.weight_decay != 0;
  for (int64_t i = 0; i < n; ++i) {
    T d = decay ? std::fma(p[i], wd, g[i]) : g[i];
    if (b) {
      b[i] = s.first ? d : FlushSubnormal(std::fma(d, damp, b[i] * mu));
      d = s.nesterov ? std::fma(b[i], mu, d) : b[i];
    }
    p[i] = std::fma(d, neg_lr, p[i]);
  }
}

template <class T>
void AdamStepRange(const AdamStep& s, T* HWY_RESTRICT p, const T* HWY_RESTRICT g, T* HWY_RESTRICT m,
                   T* HWY_RESTRICT v, T* HWY_RESTRICT vmax, int64_t n) {
  const T b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2);
  const T one_b1 = static_cast<T>(1 - s.beta1), one_b2 = static_cast<T>(1 - s.beta2);
  const T l2 = static_cast<T>(s.l2), decay = static_cast<T>(s.decay), eps = static_cast<T>(s.eps);
  const T c2 = static_cast<T>(s.bc2_sqrt), neg_step = static_cast<T>(s.neg_step);
  for (int64_t i = 0; i < n; ++i) {
    if (s.decoupled) p[i] *= decay;
    const T gi = s.l2 != 0 ? std::fma(p[i], l2, g[i]) : g[i];
    m[i] = FlushSubnormal(std::fma(gi, one_b1, m[i] * b1));
    v[i] = FlushSubnormal(v[i] * b2 + one_b2 * gi * gi);
    T second = v[i];
    if (vmax) second = vmax[i] = std::max(vmax[i], v[i]);
    const T denom = std::sqrt(second) / c2 + eps;
    p[i] = p[i] + neg_step * m[i] / denom;
  }
}

template <class T>
void RAdamStepRange(const RAdamStep& s, T* HWY_RESTRICT p, const T* HWY_RESTRICT g, T* HWY_RESTRICT m,
                    T* HWY_RESTRICT v, T* HWY_RESTRICT slow, int64_t n) {
  const T b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2);
  const T one_b1 = static_cast<T>(1 - s.beta1), one_b2 = static_cast<T>(1 - s.beta2);
  const T decay = static_cast<T>(s.decay), neg_step = static_cast<T>(s.neg_step);
  const T eps = static_cast<T>(s.eps), alpha = static_cast<T>(s.alpha);
  for (int64_t i = 0; i < n; ++i) {
    v[i] = FlushSubnormal(v[i] * b2 + one_b2 * g[i] * g[i]);  // exp_avg_sq.mul_(b2).addcmul_(1 - b2, g, g)
    m[i] = FlushSubnormal(std::fma(g[i], one_b1, m[i] * b1));  // exp_avg.mul_(b1).add_(1 - b1, g)
    if (s.decay != 0) p[i] = std::fma(p[i], decay, p[i]);     // p.add_(-wd * lr, p)
    if (s.rectified)
      p[i] = p[i] + neg_step * m[i] / (std::sqrt(v[i]) + eps);  // p.addcdiv_(-step * lr, m, denom)
    else
      p[i] = std::fma(m[i], neg_step, p[i]);  // p.add_(-step * lr, m)
    if (s.sync) {
      slow[i] = std::fma(p[i] - slow[i], alpha, slow[i]);  // slow.add_(alpha, p - slow)
      p[i] = slow[i];
    }
  }
}

template <class T>
void FillTyped(TypedKernels<T>& t) {
  t.sgd_step = SgdStepRange<T>;
  t.adam_step = AdamStepRange<T>;
  t.radam_step = RAdamStepRange<T>;
}

}  // namespace

void FillOptimKernels(SimdKernels* k) {
  FillTyped(k->f32);
  FillTyped(k->f64);
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::cpu {
HWY_EXPORT(FillOptimKernels);
void fill_optim_kernels(SimdKernels& k) { HWY_DYNAMIC_DISPATCH(FillOptimKernels)(&k); }
}  // namespace sl::cpu
#endif
