// Fused quantizer kernels per SIMD target: DeepShift's power-of-two weights (Q and PS), fixed-point
// rounding, S3's and DenseShift's gated power-of-two weights, each in one pass over the weights and
// latents (forward) and one pass writing every latent's gradient (backward). They take the same
// floating-point steps as the compositions of element-wise ops they replace (clamp, round half to even, exp2 of an integer,
// sign, products in the same order), so the results are identical, on every target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/shift_quant_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/simd/kernels.h"
#include "backends/cpu/simd/map-inl.h"
#include "backends/cpu/simd/quant-inl.h"

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

constexpr double kLn2 = 0.6931471805599453;

// 2^p for integral p, as std::exp2 returns it: the exponent field written directly when p is in the
// normal range, NaN passed through, anything else (subnormal or infinite results) by std::exp2.
template <class D, class V>
HWY_INLINE V Pow2(D d, V p) {
  using T = hn::TFromD<D>;
  const hn::RebindToSigned<D> di;
  constexpr int kBias = std::numeric_limits<T>::max_exponent - 1;  // 127, 1023
  constexpr int kMantissa = std::numeric_limits<T>::digits - 1;    // 23, 52
  const auto nan = hn::IsNaN(p);
  const auto normal = hn::And(hn::Ge(p, hn::Set(d, T(1 - kBias))), hn::Le(p, hn::Set(d, T(kBias))));
  if (!hn::AllTrue(d, hn::Or(normal, nan))) {
    T lanes[hn::MaxLanes(D())];
    hn::StoreU(p, d, lanes);
    for (size_t l = 0; l < hn::Lanes(d); ++l) lanes[l] = std::exp2(lanes[l]);
    return hn::LoadU(d, lanes);
  }
  const auto e = hn::Add(hn::ConvertTo(di, hn::IfThenZeroElse(nan, p)), hn::Set(di, static_cast<hn::TFromD<decltype(di)>>(kBias)));
  return hn::IfThenElse(nan, p, hn::BitCast(d, hn::ShiftLeft<kMantissa>(e)));
}

// y = clamp(floor(x / delta) * delta, lo, hi).
template <class T>
void RoundToFixed(const T* HWY_RESTRICT x, int64_t n, T delta, T lo, T hi, T* HWY_RESTRICT y) {
  Map(y, n, [delta, lo, hi](auto d, auto v) HWY_ATTR {
    const auto dv = hn::Set(d, delta);
    const auto q = hn::Div(v, dv);
    // CopySign: Highway's one-lane fallback loses the sign of floor(-0).
    return ClampTo(d, hn::Mul(hn::CopySign(hn::Floor(q), q), dv), lo, hi);
  }, x);
}

// shift = clamp(shift, lo, 0) in place; w = 2^round(shift) * sign(round(sign)).
template <class T>
void DeepShiftPsForward(int64_t n, T lo, T* HWY_RESTRICT shift, const T* HWY_RESTRICT sign, T* HWY_RESTRICT w) {
  ForEachVector<T>(n, [&](auto d, int64_t i) HWY_ATTR {
    const auto s = ClampTo(d, hn::LoadU(d, shift + i), lo, T(0));
    hn::StoreU(s, d, shift + i);
    hn::StoreU(hn::Mul(Pow2(d, hn::Round(s)), SignOf(d, hn::Round(hn::LoadU(d, sign + i)))), d, w + i);
  });
}

// gshift = (g * sign(round(sign))) * (2^round(shift) * ln 2).
template <class T>
void DeepShiftPsBackward(int64_t n, const T* HWY_RESTRICT shift, const T* HWY_RESTRICT sign, const T* HWY_RESTRICT g,
                         T* HWY_RESTRICT gshift) {
  Map(gshift, n, [](auto d, auto s, auto sg, auto gv) HWY_ATTR {
    const auto magnitude = Pow2(d, hn::Round(s));
    return hn::Mul(hn::Mul(gv, SignOf(d, hn::Round(sg))), hn::Mul(magnitude, hn::Set(d, static_cast<T>(kLn2))));
  }, shift, sign, g);
}

// w = sign(w) * clamp(|w|, lo, hi) in place; wq = 2^round(log(|w|) / ln 2) * sign(w), with the C
// library's log as DeepShift's (ties near sqrt(2) * 2^k depend on its rounding).
template <class T>
void DeepShiftQForward(int64_t n, T lo, T hi, T* HWY_RESTRICT w, T* HWY_RESTRICT wq) {
  const T ln2 = static_cast<T>(kLn2);
  ForEachVector<T>(n, [&](auto d, int64_t i) HWY_ATTR {
    const auto v = hn::LoadU(d, w + i);
    const auto sg = SignOf(d, v);
    const auto c = hn::Mul(sg, ClampTo(d, hn::Abs(v), lo, hi));
    hn::StoreU(c, d, w + i);
    T lanes[hn::MaxLanes(decltype(d)())];
    hn::StoreU(hn::Abs(c), d, lanes);
    for (size_t l = 0; l < hn::Lanes(d); ++l) lanes[l] = std::log(lanes[l]) / ln2;
    hn::StoreU(hn::Mul(Pow2(d, hn::Round(hn::LoadU(d, lanes))), sg), d, wq + i);
  });
}

// +1 where v >= 0, else -1 (NaN too): S3's and DenseShift's sign of the latent weight.
template <class D, class V>
HWY_INLINE V SignGe0(D d, V v) {
  using T = hn::TFromD<D>;
  return hn::Sub(hn::Mul(hn::IfThenElseZero(hn::Ge(v, hn::Zero(d)), hn::Set(d, T(1))), hn::Set(d, T(2))), hn::Set(d, T(1)));
}

template <class D, class V>
HWY_INLINE V Positive(D d, V v) {  // [v > 0]
  return hn::IfThenElseZero(hn::Gt(v, hn::Zero(d)), hn::Set(d, hn::TFromD<D>(1)));
}

constexpr int kMaxLatents = 8;  // 4-bit DenseShift has 7 gates, 4-bit S3 6 shifts

// S3: w = (sign(weight) * [sparse > 0]) * 2^k, k = b0 * (1 + b1 * (1 + ...)) with b_j = [shift_j > 0],
// times `scale` unless it is 1.
template <class T>
void S3Forward(int64_t n, int k, const T* weight, const T* sparse, const T* const* shifts, T scale, T* w) {
  ForEachVector<T>(n, [&](auto d, int64_t i) HWY_ATTR {
    auto kv = hn::Zero(d);
    for (int j = k; j-- > 0;) kv = hn::Mul(Positive(d, hn::LoadU(d, shifts[j] + i)), hn::Add(hn::Set(d, T(1)), kv));
    auto v = hn::Mul(hn::Mul(SignGe0(d, hn::LoadU(d, weight + i)), Positive(d, hn::LoadU(d, sparse + i))), Pow2(d, kv));
    if (scale != T(1)) v = hn::Mul(v, hn::Set(d, scale));
    hn::StoreU(v, d, w + i);
  });
}

// Its gradients (null outputs skipped): with gp = g * 2^k, d weight = gp * z, d sparse = gp * s,
// d shift_j = ((gp * s) * z * ln 2) * ((b0 * ... * b_{j-1}) * (1 + the nested term after j)).
template <class T>
void S3Backward(int64_t n, int k, const T* weight, const T* sparse, const T* const* shifts, T scale, const T* g,
                T* gweight, T* gsparse, T* const* gshifts) {
  ForEachVector<T>(n, [&](auto d, int64_t i) HWY_ATTR {
    using V = decltype(hn::Zero(d));
    const V one = hn::Set(d, T(1));
    V b[kMaxLatents], suffix[kMaxLatents];
    V kv = hn::Zero(d);
    for (int j = k; j-- > 0;) {
      b[j] = Positive(d, hn::LoadU(d, shifts[j] + i));
      suffix[j] = hn::Add(one, kv);
      kv = hn::Mul(b[j], suffix[j]);
    }
    const V s = SignGe0(d, hn::LoadU(d, weight + i)), z = Positive(d, hn::LoadU(d, sparse + i));
    V gv = hn::LoadU(d, g + i);
    if (scale != T(1)) gv = hn::Mul(gv, hn::Set(d, scale));
    const V gp = hn::Mul(gv, Pow2(d, kv));
    if (gweight) hn::StoreU(hn::Mul(gp, z), d, gweight + i);
    if (gsparse) hn::StoreU(hn::Mul(gp, s), d, gsparse + i);
    const V base = hn::Mul(hn::Mul(hn::Mul(gp, s), z), hn::Set(d, static_cast<T>(kLn2)));
    V prefix = one;
    for (int j = 0; j < k; ++j) {
      if (gshifts[j]) hn::StoreU(hn::Mul(base, hn::Mul(prefix, suffix[j])), d, gshifts[j] + i);
      prefix = hn::Mul(prefix, b[j]);
    }
  });
}

// DenseShift: w = sign(weight) * 2^p, p = (...((b0) + 1) * b1 + 1) * b2 ...) with b_j = [gate_j > 0],
// times `scale` unless it is 1.
template <class T>
void DenseShiftForward(int64_t n, int k, const T* weight, const T* const* gates, T scale, T* w) {
  ForEachVector<T>(n, [&](auto d, int64_t i) HWY_ATTR {
    auto p = hn::Zero(d);
    for (int j = 0; j < k; ++j) p = hn::Mul(hn::Add(p, hn::Set(d, T(1))), Positive(d, hn::LoadU(d, gates[j] + i)));
    auto v = hn::Mul(SignGe0(d, hn::LoadU(d, weight + i)), Pow2(d, p));
    if (scale != T(1)) v = hn::Mul(v, hn::Set(d, scale));
    hn::StoreU(v, d, w + i);
  });
}

// Its surrogate gradients (null outputs skipped): r = sqrt(p + 1); d weight = g * r;
// d gate_j = ((g * s) / (r * 2) * (b_{j+1} * ... * b_{K-1})) * (p_{j-1} + 1).
template <class T>
void DenseShiftBackward(int64_t n, int k, const T* weight, const T* const* gates, T scale, const T* g, T* gweight,
                        T* const* ggates) {
  ForEachVector<T>(n, [&](auto d, int64_t i) HWY_ATTR {
    using V = decltype(hn::Zero(d));
    const V one = hn::Set(d, T(1));
    V b[kMaxLatents], before[kMaxLatents];
    V p = hn::Zero(d);
    for (int j = 0; j < k; ++j) {
      b[j] = Positive(d, hn::LoadU(d, gates[j] + i));
      before[j] = p;
      p = hn::Mul(hn::Add(p, one), b[j]);
    }
    const V r = hn::Sqrt(hn::Add(p, one));
    V gv = hn::LoadU(d, g + i);
    if (scale != T(1)) gv = hn::Mul(gv, hn::Set(d, scale));
    if (gweight) hn::StoreU(hn::Mul(gv, r), d, gweight + i);
    const V gp = hn::Div(hn::Mul(gv, SignGe0(d, hn::LoadU(d, weight + i))), hn::Mul(r, hn::Set(d, T(2))));
    V suffix = one;
    for (int j = k; j-- > 0;) {
      if (ggates[j]) hn::StoreU(hn::Mul(hn::Mul(gp, suffix), hn::Add(before[j], one)), d, ggates[j] + i);
      suffix = hn::Mul(suffix, b[j]);
    }
  });
}

template <class T>
void FillTyped(TypedKernels<T>& t) {
  t.s3_forward = S3Forward<T>;
  t.s3_backward = S3Backward<T>;
  t.denseshift_forward = DenseShiftForward<T>;
  t.denseshift_backward = DenseShiftBackward<T>;
  t.round_to_fixed = RoundToFixed<T>;
  t.deepshift_ps_forward = DeepShiftPsForward<T>;
  t.deepshift_ps_backward = DeepShiftPsBackward<T>;
  t.deepshift_q_forward = DeepShiftQForward<T>;
}

}  // namespace

void FillShiftQuantKernels(SimdKernels* k) {
  FillTyped(k->f32);
  FillTyped(k->f64);
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::cpu {
HWY_EXPORT(FillShiftQuantKernels);
void fill_shift_quant_kernels(SimdKernels& k) { HWY_DYNAMIC_DISPATCH(FillShiftQuantKernels)(&k); }
}  // namespace sl::cpu
#endif
