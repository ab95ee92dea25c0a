// A blocked transpose for the per-target kernel files (Highway's -inl.h pattern, like map-inl.h).
#if defined(SL_SIMD_TRANSPOSE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SL_SIMD_TRANSPOSE_INL_H_
#undef SL_SIMD_TRANSPOSE_INL_H_
#else
#define SL_SIMD_TRANSPOSE_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols: 4 x 4 blocks transposed in registers
// with two rounds of interleaves (on every target but the one-lane fallback), the edges one by one.
template <class T>
HWY_INLINE void Transpose(const T* HWY_RESTRICT src, int64_t lds, int64_t rows, int64_t cols, T* HWY_RESTRICT dst, int64_t ldd) {
  int64_t r = 0;
#if HWY_TARGET != HWY_SCALAR
  if constexpr (sizeof(T) == sizeof(float)) {
    const hn::CappedTag<T, 4> d;  // 4 x 4 blocks: two rounds of interleaves, on every target
    for (; r + 4 <= rows; r += 4) {
      const T* s = src + r * lds;
      int64_t c = 0;
      for (; c + 4 <= cols; c += 4) {
        const auto r0 = hn::LoadU(d, s + c), r1 = hn::LoadU(d, s + lds + c);
        const auto r2 = hn::LoadU(d, s + 2 * lds + c), r3 = hn::LoadU(d, s + 3 * lds + c);
        const auto t0 = hn::InterleaveLower(d, r0, r1), t1 = hn::InterleaveLower(d, r2, r3);
        const auto t2 = hn::InterleaveUpper(d, r0, r1), t3 = hn::InterleaveUpper(d, r2, r3);
        T* o = dst + c * ldd + r;
        hn::StoreU(hn::ConcatLowerLower(d, t1, t0), d, o);
        hn::StoreU(hn::ConcatUpperUpper(d, t1, t0), d, o + ldd);
        hn::StoreU(hn::ConcatLowerLower(d, t3, t2), d, o + 2 * ldd);
        hn::StoreU(hn::ConcatUpperUpper(d, t3, t2), d, o + 3 * ldd);
      }
      for (; c < cols; ++c)
        for (int64_t k = 0; k < 4; ++k) dst[c * ldd + r + k] = s[k * lds + c];
    }
  }
#endif
  for (; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SL_SIMD_TRANSPOSE_INL_H_
