// Fused quantizer kernels per SIMD target: DeepShift's power-of-two weights (Q and PS) and fixed-point
// rounding, each in one pass over the weights and latents. They take the same floating-point steps as
// the compositions of element-wise ops they replace (clamp, round half to even, exp2 of an integer,
// sign, products in the same order), so the results are identical, on every target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/shift_quant_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>
#include <limits>

#include "backends/cpu/simd/kernels.h"
#include "backends/cpu/simd/map-inl.h"

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

constexpr double kLn2 = 0.6931471805599453;

template <class D, class V>
HWY_INLINE V ClampTo(D d, V v, hn::TFromD<D> lo, hn::TFromD<D> hi) {  // v < lo ? lo : (v > hi ? hi : v)
  const V l = hn::Set(d, lo), h = hn::Set(d, hi);
  return hn::IfThenElse(hn::Lt(v, l), l, hn::IfThenElse(hn::Gt(v, h), h, v));
}

template <class D, class V>
HWY_INLINE V SignOf(D d, V v) {  // T((v > 0) - (v < 0)); 0 for 0 and NaN
  const V zero = hn::Zero(d), one = hn::Set(d, hn::TFromD<D>(1));
  return hn::Sub(hn::IfThenElseZero(hn::Gt(v, zero), one), hn::IfThenElseZero(hn::Lt(v, zero), one));
}

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

template <class T>
void FillTyped(TypedKernels<T>& t) {
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
