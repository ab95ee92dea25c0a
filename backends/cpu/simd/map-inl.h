// Element-wise loops for the per-target kernel files: include it after <hwy/highway.h> in a
// foreach_target file (Highway's -inl.h pattern: it is compiled once per target).
#if defined(SL_SIMD_MAP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SL_SIMD_MAP_INL_H_
#undef SL_SIMD_MAP_INL_H_
#else
#define SL_SIMD_MAP_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// f(d, i) for the vectors that cover [0, n): whole vectors of d from i = 0, then one-lane vectors
// for the tail, so every element takes the same instructions; f loads and stores what it needs.
template <class T, class F>
HWY_INLINE void ForEachVector(int64_t n, const F& f) {
  const hn::ScalableTag<T> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) f(d, i);
  const hn::CappedTag<T, 1> d1;
  for (; i < n; ++i) f(d1, i);
}

// out[i] = f(d, in[i]...) for i < n, f written once over Highway vectors.
template <class T, class F, class... In>
HWY_INLINE void Map(T* HWY_RESTRICT out, int64_t n, const F& f, const In* HWY_RESTRICT... in) {
  ForEachVector<T>(n, [&](auto d, int64_t i) HWY_ATTR { hn::StoreU(f(d, hn::LoadU(d, in + i)...), d, out + i); });
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SL_SIMD_MAP_INL_H_
