// Vector steps the quantizer kernels share (clamp and sign as the element-wise ops take them).
// Include after <hwy/highway.h> in a foreach_target file (Highway's -inl.h pattern).
#if defined(SL_SIMD_QUANT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SL_SIMD_QUANT_INL_H_
#undef SL_SIMD_QUANT_INL_H_
#else
#define SL_SIMD_QUANT_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

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

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SL_SIMD_QUANT_INL_H_
