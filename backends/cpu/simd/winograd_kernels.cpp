// The transforms of Winograd's F(2x2, 3x3) convolution (backends/cpu/winograd.cpp), compiled for
// every SIMD target. Each runs along a tile row, one vector of tiles at a time: tile tx reads input
// columns 2tx..2tx+3, which de-interleaved into even and odd columns are E[tx], O[tx], E[tx+1],
// O[tx+1], so a vector of consecutive tiles is two interleaved loads. Only additions and
// subtractions, in a fixed order: every target computes the same bits.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/winograd_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "backends/cpu/simd/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
constexpr int64_t kLanes = static_cast<int64_t>(hn::MaxLanes(D()));

// One row of d B for a vector of tiles: the row's columns 2tx..2tx+3 are c0..c3.
struct Row4 {
  V a0, a1, a2, a3;
};

HWY_INLINE Row4 RowTimesB(const float* HWY_RESTRICT row) {
  const D d;
  V c0, c1, c2, c3;
  hn::LoadInterleaved2(d, row, c0, c1);
  hn::LoadInterleaved2(d, row + 2, c2, c3);
  return {hn::Sub(c0, c2), hn::Add(c1, c2), hn::Sub(c2, c1), hn::Sub(c1, c3)};
}

// Copies n floats without a library call (rows here are a few dozen floats).
HWY_INLINE void CopyRow(const float* HWY_RESTRICT src, int64_t n, float* HWY_RESTRICT dst) {
  const D d;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  for (; i < n; ++i) dst[i] = src[i];
}

HWY_INLINE void ZeroRow(int64_t n, float* HWY_RESTRICT dst) {
  const D d;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) hn::StoreU(hn::Zero(d), d, dst + i);
  for (; i < n; ++i) dst[i] = 0.0f;
}

void WinogradInput(const WinogradPlane& x, int64_t ty0, int64_t ty1, int64_t tw, float* band, float* v,
                   int64_t ldxi) {
  const D d;
  const int64_t pitch = 2 * tw + 2;
  // The band's rows: input rows 2 ty0 - ph + r at column pw (the zero columns around stay zero).
  for (int64_t r = 0; r < 2 * (ty1 - ty0) + 2; ++r) {
    const int64_t ih = 2 * ty0 + r - x.ph;
    float* out = band + r * pitch + x.pw;
    if (ih >= 0 && ih < x.h)
      CopyRow(x.plane + ih * x.w, x.w, out);
    else
      ZeroRow(x.w, out);
  }
  for (int64_t r = 0; r < ty1 - ty0; ++r) {
    const float* top = band + 2 * r * pitch;
    float* out = v + r * tw;
    for (int64_t tx = 0; tx < tw; tx += kLanes) {
      const float* at = top + 2 * tx;
      const Row4 d0 = RowTimesB(at), d1 = RowTimesB(at + pitch), d2 = RowTimesB(at + 2 * pitch),
                 d3 = RowTimesB(at + 3 * pitch);
      // B^T (d B), column j of the four rows at a time: xi = 4 i + j.
      auto column = [&](int j, V x0, V x1, V x2, V x3) {
        hn::StoreU(hn::Sub(x0, x2), d, out + (0 + j) * ldxi + tx);
        hn::StoreU(hn::Add(x1, x2), d, out + (4 + j) * ldxi + tx);
        hn::StoreU(hn::Sub(x2, x1), d, out + (8 + j) * ldxi + tx);
        hn::StoreU(hn::Sub(x1, x3), d, out + (12 + j) * ldxi + tx);
      };
      column(0, d0.a0, d1.a0, d2.a0, d3.a0);
      column(1, d0.a1, d1.a1, d2.a1, d3.a1);
      column(2, d0.a2, d1.a2, d2.a2, d3.a2);
      column(3, d0.a3, d1.a3, d2.a3, d3.a3);
    }
  }
}

// Stores the 2 kLanes output columns starting at column `col` of a row of width wo, clipped to it.
HWY_INLINE void StorePairs(V even, V odd, float* HWY_RESTRICT row, int64_t col, int64_t wo) {
  const D d;
  if (col + 2 * kLanes <= wo) {
    hn::StoreInterleaved2(even, odd, d, row + col);
    return;
  }
  HWY_ALIGN float tmp[2 * kLanes];
  hn::StoreInterleaved2(even, odd, d, tmp);
  for (int64_t i = 0; i < wo - col; ++i) row[col + i] = tmp[i];
}

void WinogradOutput(const float* m, int64_t ldxi, int64_t ty0, int64_t ty1, int64_t tw, float* y, int64_t ho,
                    int64_t wo) {
  const D d;
  for (int64_t ty = ty0; ty < ty1; ++ty) {
    const float* in = m + (ty - ty0) * tw;
    float* row0 = y + 2 * ty * wo;
    const bool second = 2 * ty + 1 < ho;
    for (int64_t tx = 0; tx < tw; tx += kLanes) {
      auto at = [&](int xi) { return hn::LoadU(d, in + xi * ldxi + tx); };
      // A^T M: s0 = M0 + M1 + M2, s1 = M1 - M2 - M3 (rows of M), column j at a time.
      V s0[4], s1[4];
      for (int j = 0; j < 4; ++j) {
        const V m0 = at(j), m1 = at(4 + j), m2 = at(8 + j), m3 = at(12 + j);
        s0[j] = hn::Add(hn::Add(m0, m1), m2);
        s1[j] = hn::Sub(hn::Sub(m1, m2), m3);
      }
      // (A^T M) A, the same combination over columns.
      StorePairs(hn::Add(hn::Add(s0[0], s0[1]), s0[2]), hn::Sub(hn::Sub(s0[1], s0[2]), s0[3]), row0, 2 * tx, wo);
      if (second)
        StorePairs(hn::Add(hn::Add(s1[0], s1[1]), s1[2]), hn::Sub(hn::Sub(s1[1], s1[2]), s1[3]), row0 + wo, 2 * tx,
                   wo);
    }
  }
}

// Loads the 2 kLanes columns of a row starting at `col` as even and odd vectors, zero past wo.
HWY_INLINE void LoadPairs(const float* HWY_RESTRICT row, int64_t col, int64_t wo, V& even, V& odd) {
  const D d;
  if (col + 2 * kLanes <= wo) {
    hn::LoadInterleaved2(d, row + col, even, odd);
    return;
  }
  HWY_ALIGN float tmp[2 * kLanes] = {};
  for (int64_t i = 0; i < wo - col; ++i) tmp[i] = row[col + i];
  hn::LoadInterleaved2(d, tmp, even, odd);
}

void WinogradOutputAdjoint(const float* gy, int64_t ho, int64_t wo, int64_t ty0, int64_t ty1, int64_t tw, float* g,
                           int64_t ldxi) {
  const D d;
  for (int64_t ty = ty0; ty < ty1; ++ty) {
    float* out = g + (ty - ty0) * tw;
    const float* row0 = gy + 2 * ty * wo;
    const bool second = 2 * ty + 1 < ho;
    for (int64_t tx = 0; tx < tw; tx += kLanes) {
      V y00, y01, y10 = hn::Zero(d), y11 = hn::Zero(d);
      LoadPairs(row0, 2 * tx, wo, y00, y01);
      if (second) LoadPairs(row0 + wo, 2 * tx, wo, y10, y11);
      // h = A dy (4 x 2): rows dy0, dy0 + dy1, dy0 - dy1, -dy1; then h A^T over columns likewise.
      const V h[4][2] = {{y00, y01},
                         {hn::Add(y00, y10), hn::Add(y01, y11)},
                         {hn::Sub(y00, y10), hn::Sub(y01, y11)},
                         {hn::Neg(y10), hn::Neg(y11)}};
      for (int i = 0; i < 4; ++i) {
        hn::StoreU(h[i][0], d, out + (4 * i + 0) * ldxi + tx);
        hn::StoreU(hn::Add(h[i][0], h[i][1]), d, out + (4 * i + 1) * ldxi + tx);
        hn::StoreU(hn::Sub(h[i][0], h[i][1]), d, out + (4 * i + 2) * ldxi + tx);
        hn::StoreU(hn::Neg(h[i][1]), d, out + (4 * i + 3) * ldxi + tx);
      }
    }
  }
}

}  // namespace

void FillWinogradKernels(SimdKernels* k) {
  k->winograd_input = WinogradInput;
  k->winograd_output = WinogradOutput;
  k->winograd_output_adjoint = WinogradOutputAdjoint;
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::cpu {
HWY_EXPORT(FillWinogradKernels);
void fill_winograd_kernels(SimdKernels& k) { HWY_DYNAMIC_DISPATCH(FillWinogradKernels)(&k); }
}  // namespace sl::cpu
#endif
