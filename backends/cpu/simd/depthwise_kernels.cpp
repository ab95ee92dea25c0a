// Depthwise conv planes (MobileNetV2's 3x3 convs, one input and one output channel per group), per
// SIMD target. The input is a padded plane (backends/cpu/conv_layout.h): output pixel (oh, ow) reads
// tap t at rows[t][oh * wp + ow]. The forward computes each output as the implicit GEMM of a group
// would (one multiply-add chain over the taps in order), so the results are the same bits; the
// weight gradient sums in 16 fixed lanes (ow mod 16) whatever the vector width, so every target with
// FMA gives the same bits; the strided input gradient adds rounded products into the stride's phases
// in col2im's order. The stride-2 phase split and merge (deinterleave2 / interleave2) serve the
// polyphase layout of every stride-2 conv.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/depthwise_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>

#include "backends/cpu/simd/kernels.h"
#include "backends/cpu/simd/sum_lanes.h"

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// out[q] for q in [q0, q0 + NV * lanes): NV independent chains, so the FMA latency is hidden.
template <int NV>
HWY_INLINE void ForwardVectors(const float* const* rows, const float* w, int64_t taps, int64_t q0, float* out) {
  const D d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  V acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = hn::Zero(d);
  for (int64_t t = 0; t < taps; ++t) {
    const V wt = hn::Set(d, w[t]);
    const float* r = rows[t] + q0;
    for (int v = 0; v < NV; ++v) acc[v] = hn::MulAdd(wt, hn::LoadU(d, r + v * L), acc[v]);
  }
  for (int v = 0; v < NV; ++v) hn::StoreU(acc[v], d, out + q0 + v * L);
}

// out[q] = sum over t of w[t] * rows[t][q] for q in [0, n) (n = ho * wp: the dropped columns of each
// row too, as the implicit GEMM; the caller keeps the first wo of every wp). `out` has room for n
// rounded up to a vector; the rows are readable that far (the layout's slack).
void DepthwiseForward(const float* const* rows, const float* w, int64_t taps, int64_t n, float* out) {
  const D d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  int64_t q = 0;
  for (; q + 4 * L <= n; q += 4 * L) ForwardVectors<4>(rows, w, taps, q, out);
  for (; q < n; q += L) ForwardVectors<1>(rows, w, taps, q, out);
}

// acc[t][l] (+)= rows[t0 + t][oh * wp + ow] * gy[oh * wo + ow] over the pixels with ow mod 16 == l,
// for the TB taps from t0: one chain per lane and tap, over the rows and columns in order.
template <int TB>
HWY_INLINE void WeightTaps(const float* const* rows, int64_t t0, const float* gy, int64_t ho, int64_t wo, int64_t wp,
                           float* acc) {
  const D d;
  constexpr int64_t L = static_cast<int64_t>(hn::MaxLanes(D()));
  constexpr int NS = static_cast<int>(kSumLanes / L);
  static_assert(NS >= 1 && NS * L == kSumLanes, "16 lanes must be whole vectors");
  V a[TB][NS];
  for (int t = 0; t < TB; ++t)
    for (int s = 0; s < NS; ++s) a[t][s] = hn::LoadU(d, acc + (t0 + t) * kSumLanes + s * L);
  HWY_ALIGN float tail[kSumLanes];
  for (int64_t oh = 0; oh < ho; ++oh) {
    const float* g = gy + oh * wo;
    for (int64_t ow = 0; ow < wo; ow += kSumLanes) {
      const int64_t valid = std::min(kSumLanes, wo - ow);
      const float* gs = g + ow;
      if (valid < kSumLanes) {  // gy's last columns through a zero-padded copy: never read past the plane
        std::fill(tail, tail + kSumLanes, 0.0f);
        std::copy(g + ow, g + wo, tail);
        gs = tail;
      }
      for (int s = 0; s < NS; ++s) {
        const V gv = hn::LoadU(d, gs + s * L);
        // Columns past wo read padding or the next row: zeroed, so they add exactly nothing.
        const auto inside = hn::FirstN(d, static_cast<size_t>(std::clamp<int64_t>(valid - s * L, 0, L)));
        const int64_t q = oh * wp + ow + s * L;
        for (int t = 0; t < TB; ++t)
          a[t][s] = hn::MulAdd(hn::IfThenElseZero(inside, hn::LoadU(d, rows[t0 + t] + q)), gv, a[t][s]);
      }
    }
  }
  for (int t = 0; t < TB; ++t)
    for (int s = 0; s < NS; ++s) hn::StoreU(a[t][s], d, acc + (t0 + t) * kSumLanes + s * L);
}

// acc (taps x 16 floats) continues the lane sums of the weight gradient with one more plane.
void DepthwiseWeight(const float* const* rows, const float* gy, int64_t taps, int64_t ho, int64_t wo, int64_t wp,
                     float* acc) {
  int64_t t = 0;
  for (; t + 3 <= taps; t += 3) WeightTaps<3>(rows, t, gy, ho, wo, wp, acc);
  for (; t < taps; ++t) WeightTaps<1>(rows, t, gy, ho, wo, wp, acc);
}

// dst[i] += w * g[i]: the product rounded, then the sum (col2im's add of a GEMM product).
HWY_INLINE void Axpy(const float* HWY_RESTRICT g, float w, int64_t n, float* HWY_RESTRICT dst) {
  const D d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  const V wv = hn::Set(d, w);
  int64_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Add(hn::LoadU(d, dst + i), hn::Mul(wv, hn::LoadU(d, g + i))), d, dst + i);
  for (; i < n; ++i) dst[i] += w * g[i];
}

// Tap by tap, output row by output row: dst[offsets[t] + oh * row_stride + ow] += w[t] * gy[oh * wo + ow].
void DepthwiseScatter(const float* gy, int64_t ho, int64_t wo, const float* w, const int64_t* offsets, int64_t taps,
                      int64_t row_stride, float* dst) {
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t oh = 0; oh < ho; ++oh) Axpy(gy + oh * wo, w[t], wo, dst + offsets[t] + oh * row_stride);
}

// Row r of a stride-2 phase pair: even columns at `phases + (r & 1) * parity_stride + (r >> 1) *
// row_stride`, odd columns odd_offset further.
HWY_INLINE int64_t PhaseRow(int64_t r, int64_t parity_stride, int64_t row_stride) {
  return (r & 1) * parity_stride + (r >> 1) * row_stride;
}

// Rows of n floats (src, consecutive) split into their even and odd columns.
void Deinterleave2(const float* HWY_RESTRICT src, int64_t rows, int64_t n, float* HWY_RESTRICT phases,
                   int64_t parity_stride, int64_t row_stride, int64_t odd_offset) {
  const D d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * n;
    float* even = phases + PhaseRow(r, parity_stride, row_stride);
    float* odd = even + odd_offset;
    int64_t i = 0;
    for (; 2 * (i + L) <= n; i += L) {
      V e, o;
      hn::LoadInterleaved2(d, s + 2 * i, e, o);
      hn::StoreU(e, d, even + i);
      hn::StoreU(o, d, odd + i);
    }
    for (int64_t j = 2 * i; j < n; ++j) ((j & 1) ? odd : even)[j / 2] = s[j];
  }
}

// The inverse: rows of n floats (dst, consecutive) put back together from their phases.
void Interleave2(const float* HWY_RESTRICT phases, int64_t parity_stride, int64_t row_stride, int64_t odd_offset,
                 int64_t rows, int64_t n, float* HWY_RESTRICT dst) {
  const D d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t r = 0; r < rows; ++r) {
    const float* even = phases + PhaseRow(r, parity_stride, row_stride);
    const float* odd = even + odd_offset;
    float* o = dst + r * n;
    int64_t i = 0;
    for (; 2 * (i + L) <= n; i += L) hn::StoreInterleaved2(hn::LoadU(d, even + i), hn::LoadU(d, odd + i), d, o + 2 * i);
    for (int64_t j = 2 * i; j < n; ++j) o[j] = (j & 1) ? odd[j / 2] : even[j / 2];
  }
}

}  // namespace

void FillDepthwiseKernels(SimdKernels* k) {
  k->depthwise_forward = DepthwiseForward;
  k->depthwise_weight = DepthwiseWeight;
  k->depthwise_scatter = DepthwiseScatter;
  k->deinterleave2 = Deinterleave2;
  k->interleave2 = Interleave2;
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::cpu {
HWY_EXPORT(FillDepthwiseKernels);
void fill_depthwise_kernels(SimdKernels& k) { HWY_DYNAMIC_DISPATCH(FillDepthwiseKernels)(&k); }
}  // namespace sl::cpu
#endif
