// The optimizers' per-element updates, written once for the CPU kernels (backends/cpu/simd/
// optim_kernels.cpp, vectorised per target) and the CUDA kernels (backends/cuda/optim.cu). The
// formulas are PyTorch's vectorised CPU optimizers: `a + b * c` is fma(b, c, a), one rounding, which
// CPUs with FMA, the C library and CUDA all round the same way, so every backend computes the same bits
// from the same inputs (sqrt and division are IEEE-rounded on both sides).
#pragma once
#include <cmath>

#include "backends/params.h"

namespace sl::optim_rules {

template <class T>
SL_HOST_DEVICE inline T fma_of(T a, T b, T c) {
#ifdef __CUDA_ARCH__
  return ::fma(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

template <class T>
SL_HOST_DEVICE inline T sqrt_of(T a) {
#ifdef __CUDA_ARCH__
  return ::sqrt(a);
#else
  return std::sqrt(a);
#endif
}

// The smallest normal value of T (std::numeric_limits is not callable from device code).
template <class T>
SL_HOST_DEVICE inline T smallest_normal();
template <>
SL_HOST_DEVICE inline float smallest_normal<float>() {
  return 1.17549435082228750797e-38f;
}
template <>
SL_HOST_DEVICE inline double smallest_normal<double>() {
  return 2.22507385850720138309e-308;
}

// A moment that has decayed below the smallest normal value becomes 0. Weights whose gradient stays
// 0 (common in shift networks) would otherwise keep subnormal moments, and subnormal arithmetic is
// ~100x slower on x86 (a DeepShift-PS run slowed down 40 % over 5 epochs). The effect on the update
// is below 1e-30. Explicit, so it does not depend on a device's flush-to-zero mode.
template <class T>
SL_HOST_DEVICE inline T flush_subnormal(T x) {
  return (x < T(0) ? -x : x) < smallest_normal<T>() ? T(0) : x;
}

// Each step's double scalars cast once to the parameter's dtype, as PyTorch's kernels do.
template <class T>
struct Sgd {
  T wd, mu, damp, neg_lr;
  bool decay, nesterov, first;
  SL_HOST_DEVICE explicit Sgd(const SgdStep& s)
      : wd(static_cast<T>(s.weight_decay)), mu(static_cast<T>(s.momentum)), damp(static_cast<T>(1 - s.dampening)),
        neg_lr(static_cast<T>(s.neg_lr)), decay(s.weight_decay != 0), nesterov(s.nesterov), first(s.first) {}

  // Without momentum.
  SL_HOST_DEVICE void operator()(T& p, T g) const { p = fma_of(decay ? fma_of(p, wd, g) : g, neg_lr, p); }
  // With the element's momentum buffer.
  SL_HOST_DEVICE void operator()(T& p, T g, T& buf) const {
    T d = decay ? fma_of(p, wd, g) : g;
    buf = first ? d : flush_subnormal(fma_of(d, damp, buf * mu));
    d = nesterov ? fma_of(buf, mu, d) : buf;
    p = fma_of(d, neg_lr, p);
  }
};

template <class T>
struct Adam {
  T b1, b2, one_b1, one_b2, l2, decay, eps, c2, neg_step;
  bool coupled, decoupled;
  SL_HOST_DEVICE explicit Adam(const AdamStep& s)
      : b1(static_cast<T>(s.beta1)), b2(static_cast<T>(s.beta2)), one_b1(static_cast<T>(1 - s.beta1)),
        one_b2(static_cast<T>(1 - s.beta2)), l2(static_cast<T>(s.l2)), decay(static_cast<T>(s.decay)),
        eps(static_cast<T>(s.eps)), c2(static_cast<T>(s.bc2_sqrt)), neg_step(static_cast<T>(s.neg_step)),
        coupled(s.l2 != 0), decoupled(s.decoupled) {}

  // Without AMSGrad.
  SL_HOST_DEVICE void operator()(T& p, T g, T& m, T& v) const {
    const T mi = m_of(p, g, m, v);  // before reading p: it decays p
    p = p + neg_step * mi / denom(v);
  }
  // AMSGrad: with the element's running maximum of v.
  SL_HOST_DEVICE void operator()(T& p, T g, T& m, T& v, T& vmax) const {
    const T mi = m_of(p, g, m, v);
    vmax = vmax < v ? v : vmax;  // std::max(vmax, v)
    p = p + neg_step * mi / denom(vmax);
  }

 private:
  // Decays p (AdamW), updates both moments and returns the new m.
  SL_HOST_DEVICE T m_of(T& p, T g, T& m, T& v) const {
    if (decoupled) p *= decay;
    const T gi = coupled ? fma_of(p, l2, g) : g;
    m = flush_subnormal(fma_of(gi, one_b1, m * b1));
    v = flush_subnormal(v * b2 + one_b2 * gi * gi);
    return m;
  }
  SL_HOST_DEVICE T denom(T second) const { return sqrt_of(second) / c2 + eps; }
};

template <class T>
struct RAdam {
  T b1, b2, one_b1, one_b2, decay, neg_step, eps, alpha;
  bool decays, rectified, sync;
  SL_HOST_DEVICE explicit RAdam(const RAdamStep& s)
      : b1(static_cast<T>(s.beta1)), b2(static_cast<T>(s.beta2)), one_b1(static_cast<T>(1 - s.beta1)),
        one_b2(static_cast<T>(1 - s.beta2)), decay(static_cast<T>(s.decay)), neg_step(static_cast<T>(s.neg_step)),
        eps(static_cast<T>(s.eps)), alpha(static_cast<T>(s.alpha)), decays(s.decay != 0), rectified(s.rectified),
        sync(s.sync) {}

  SL_HOST_DEVICE void operator()(T& p, T g, T& m, T& v) const {
    v = flush_subnormal(v * b2 + one_b2 * g * g);  // exp_avg_sq.mul_(b2).addcmul_(1 - b2, g, g)
    m = flush_subnormal(fma_of(g, one_b1, m * b1));  // exp_avg.mul_(b1).add_(1 - b1, g)
    if (decays) p = fma_of(p, decay, p);             // p.add_(-wd * lr, p)
    if (rectified)
      p = p + neg_step * m / (sqrt_of(v) + eps);  // p.addcdiv_(-step * lr, m, denom)
    else
      p = fma_of(m, neg_step, p);  // p.add_(-step * lr, m)
  }
  // Ranger: with the element's Lookahead slow weight.
  SL_HOST_DEVICE void operator()(T& p, T g, T& m, T& v, T& slow) const {
    (*this)(p, g, m, v);
    if (sync) {
      slow = fma_of(p - slow, alpha, slow);  // slow.add_(alpha, p - slow)
      p = slow;
    }
  }
};

}  // namespace sl::optim_rules
