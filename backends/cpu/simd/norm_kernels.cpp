// Batch-norm inner loops per SIMD target. The sums run in 16 lanes whatever the vector width (one
// AVX-512 register, two AVX2, four SSE4/NEON), folded in a fixed pairwise order, and every product
// and sum is a separate rounding (no fused multiply-add): results are bitwise identical on every
// target and thread count.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/norm_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>

#include "backends/cpu/simd/kernels.h"
#include "backends/cpu/simd/map-inl.h"
#include "backends/cpu/simd/sum_lanes.h"

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

// s1 += sum(a[j] - pa), s2 += sum((a[j] - pa) * (b[j] - pb)) over j < len, where a[j] is
// load_a(d, j) (a plain load, or ReLU's masked gradient).
template <class T, class LoadA>
HWY_INLINE void LaneSumsOf(const LoadA& load_a, T pa, const T* HWY_RESTRICT b, T pb, int64_t len, double& s1,
                           double& s2) {
  using D = hn::ScalableTag<T>;
  const D d;
  constexpr int64_t L = static_cast<int64_t>(hn::MaxLanes(D()));
  constexpr int NS = static_cast<int>(kSumLanes / L);  // vectors per 16 lanes
  static_assert(NS >= 1 && NS * L == kSumLanes, "16 lanes must be whole vectors");
  using V = hn::Vec<D>;
  const V vpa = hn::Set(d, pa), vpb = hn::Set(d, pb);
  V acc1[NS], acc2[NS];
  for (int s = 0; s < NS; ++s) acc1[s] = acc2[s] = hn::Zero(d);
  auto step = [&](const V* av, const T* pb_row) HWY_ATTR {
    for (int s = 0; s < NS; ++s) {
      const V u = hn::Sub(av[s], vpa);
      acc1[s] = hn::Add(acc1[s], u);
      acc2[s] = hn::Add(acc2[s], hn::Mul(u, hn::Sub(hn::LoadU(d, pb_row + s * L), vpb)));
    }
  };
  int64_t j = 0;
  V av[NS];
  for (; j + kSumLanes <= len; j += kSumLanes) {
    for (int s = 0; s < NS; ++s) av[s] = load_a(d, j + s * L);
    step(av, b + j);
  }
  if (j < len) {  // the tail, padded with the pivots: it adds zeros to the lanes past the end
    T ta[kSumLanes], tb[kSumLanes];
    std::fill(ta, ta + kSumLanes, pa);
    std::fill(tb, tb + kSumLanes, pb);
    const hn::CappedTag<T, 1> d1;
    for (int64_t i = j; i < len; ++i) ta[i - j] = hn::GetLane(load_a(d1, i));
    std::copy(b + j, b + len, tb);
    for (int s = 0; s < NS; ++s) av[s] = hn::LoadU(d, ta + s * L);
    step(av, tb);
  }
  T l1[kSumLanes], l2[kSumLanes];
  for (int s = 0; s < NS; ++s) {
    hn::StoreU(acc1[s], d, l1 + s * L);
    hn::StoreU(acc2[s], d, l2 + s * L);
  }
  s1 += static_cast<double>(fold_lanes(l1));
  s2 += static_cast<double>(fold_lanes(l2));
}

template <class T>
void LaneSums(const T* HWY_RESTRICT a, T pa, const T* HWY_RESTRICT b, T pb, int64_t len, double& s1, double& s2) {
  LaneSumsOf([a](auto d, int64_t i) HWY_ATTR { return hn::LoadU(d, a + i); }, pa, b, pb, len, s1, s2);
}

// ReLU's gradient, its mask recomputed from x: gy where (x - mu) * k + b > 0, else 0. That z is
// NormalizeRelu's before the ReLU, so the mask is exactly its output's r > 0 (-0 and NaN give 0).
template <class D, class V>
HWY_INLINE V ReluGradFromX(D d, V x, V mu, V k, V b, V g) {
  const V z = hn::Add(hn::Mul(hn::Sub(x, mu), k), b);
  return hn::IfThenElseZero(hn::Gt(z, hn::Zero(d)), g);
}

template <class T>
void ReluLaneSums(const T* HWY_RESTRICT gy, const T* HWY_RESTRICT x, T mu, T k, T b, int64_t len, double& s1,
                  double& s2) {
  LaneSumsOf(
      [gy, x, mu, k, b](auto d, int64_t i) HWY_ATTR {
        return ReluGradFromX(d, hn::LoadU(d, x + i), hn::Set(d, mu), hn::Set(d, k), hn::Set(d, b),
                             hn::LoadU(d, gy + i));
      },
      T(0), x, mu, len, s1, s2);
}

// y = (x - mu) * k + b: centred first, so f32 stays precise when the mean is large against the spread.
template <class T>
void Normalize(const T* HWY_RESTRICT x, int64_t n, T mu, T k, T b, T* HWY_RESTRICT y) {
  Map(y, n, [mu, k, b](auto d, auto v) HWY_ATTR {
    return hn::Add(hn::Mul(hn::Sub(v, hn::Set(d, mu)), hn::Set(d, k)), hn::Set(d, b));
  }, x);
}

// gx = a * gy + b * (x - mu) + c.
template <class T>
void Backward(const T* HWY_RESTRICT gy, const T* HWY_RESTRICT x, int64_t n, T a, T b, T mu, T c, T* HWY_RESTRICT gx) {
  Map(gx, n, [a, b, mu, c](auto d, auto g, auto v) HWY_ATTR {
    const auto t = hn::Add(hn::Mul(hn::Set(d, a), g), hn::Mul(hn::Set(d, b), hn::Sub(v, hn::Set(d, mu))));
    return hn::Add(t, hn::Set(d, c));
  }, gy, x);
}

// relu(Normalize): ReLU's v < 0 ? 0 : v (NaN passes), on the normalised value in the register.
template <class T>
void NormalizeRelu(const T* HWY_RESTRICT x, int64_t n, T mu, T k, T b, T* HWY_RESTRICT y) {
  Map(y, n, [mu, k, b](auto d, auto v) HWY_ATTR {
    const auto z = hn::Add(hn::Mul(hn::Sub(v, hn::Set(d, mu)), hn::Set(d, k)), hn::Set(d, b));
    return hn::IfThenZeroElse(hn::Lt(z, hn::Zero(d)), z);
  }, x);
}

// relu(Normalize + res): the normalised value is rounded, then the shortcut added, as the unfused ops.
template <class T>
void NormalizeAddRelu(const T* HWY_RESTRICT x, int64_t n, T mu, T k, T b, const T* HWY_RESTRICT res,
                      T* HWY_RESTRICT y) {
  Map(y, n, [mu, k, b](auto d, auto v, auto r) HWY_ATTR {
    const auto z = hn::Add(hn::Add(hn::Mul(hn::Sub(v, hn::Set(d, mu)), hn::Set(d, k)), hn::Set(d, b)), r);
    return hn::IfThenZeroElse(hn::Lt(z, hn::Zero(d)), z);
  }, x, res);
}

// Backward of gy masked by ReLU, the mask recomputed from x (ReluGradFromX; a is the forward's k).
template <class T>
void ReluBackward(const T* HWY_RESTRICT gy, const T* HWY_RESTRICT x, int64_t n, T a, T b, T mu, T c, T beta,
                  T* HWY_RESTRICT gx) {
  Map(gx, n, [a, b, mu, c, beta](auto d, auto g, auto v) HWY_ATTR {
    const auto va = hn::Set(d, a), vmu = hn::Set(d, mu);
    const auto gm = ReluGradFromX(d, v, vmu, va, hn::Set(d, beta), g);
    const auto t = hn::Add(hn::Mul(va, gm), hn::Mul(hn::Set(d, b), hn::Sub(v, vmu)));
    return hn::Add(t, hn::Set(d, c));
  }, gy, x);
}

template <class T>
void FillTyped(TypedKernels<T>& t) {
  t.bn_sums = LaneSums<T>;
  t.bn_normalize = Normalize<T>;
  t.bn_backward = Backward<T>;
  t.bn_normalize_relu = NormalizeRelu<T>;
  t.bn_relu_sums = ReluLaneSums<T>;
  t.bn_relu_backward = ReluBackward<T>;
  t.bn_normalize_add_relu = NormalizeAddRelu<T>;
}

}  // namespace

void FillNormKernels(SimdKernels* k) {
  FillTyped(k->f32);
  FillTyped(k->f64);
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::cpu {
HWY_EXPORT(FillNormKernels);
void fill_norm_kernels(SimdKernels& k) { HWY_DYNAMIC_DISPATCH(FillNormKernels)(&k); }
}  // namespace sl::cpu
#endif
