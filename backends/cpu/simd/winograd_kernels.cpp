// The transforms of Winograd's F(2x2, 3x3) and F(4x4, 3x3) convolutions (backends/cpu/winograd.cpp),
// compiled for every SIMD target. Each runs along a tile row, one vector of tiles at a time.
// F(2x2, 3x3): tile tx reads input columns 2tx..2tx+3, which de-interleaved into even and odd columns
// are E[tx], O[tx], E[tx+1], O[tx+1]: two 2-way interleaved loads. F(4x4, 3x3): columns 4tx..4tx+5,
// two 4-way interleaved loads. The transforms add, subtract and multiply by powers of two only (F(4x4,
// 3x3)'s -5 written as -4 - 1), so every product is exact and contracting it into an FMA changes
// nothing: every target computes the same bits.
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

// The band of tile rows [ty0, ty1) for tiles of m outputs: input rows m ty0 - ph + r at column pw of
// rows of m tw + 2 floats (the zero columns around them stay zero).
HWY_INLINE void FillBand(const WinogradPlane& x, int64_t m, int64_t ty0, int64_t ty1, int64_t tw, float* band) {
  const int64_t pitch = m * tw + 2;
  for (int64_t r = 0; r < m * (ty1 - ty0) + 2; ++r) {
    const int64_t ih = m * ty0 + r - x.ph;
    float* out = band + r * pitch + x.pw;
    if (ih >= 0 && ih < x.h)
      CopyRow(x.plane + ih * x.w, x.w, out);
    else
      ZeroRow(x.w, out);
  }
}

// ---- F(2x2, 3x3).

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

void Winograd2Input(const WinogradPlane& x, int64_t ty0, int64_t ty1, int64_t tw, float* band, float* v,
                    int64_t ldxi) {
  const D d;
  const int64_t pitch = 2 * tw + 2;
  FillBand(x, 2, ty0, ty1, tw, band);
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

void Winograd2Output(const float* m, int64_t ldxi, int64_t ty0, int64_t ty1, int64_t tw, float* y, int64_t ho,
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

void Winograd2OutputAdjoint(const float* gy, int64_t ho, int64_t wo, int64_t ty0, int64_t ty1, int64_t tw,
                            float* g, int64_t ldxi) {
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

// ---- F(4x4, 3x3): six values per tile side (Lavin & Gray's points 0, 1, -1, 2, -2, infinity).

HWY_INLINE V Times(float k, V x) { return hn::Mul(hn::Set(D(), k), x); }  // k a power of two: exact

// B^T x for six values.
HWY_INLINE void InputTransform6(const V (&x)[6], V (&t)[6]) {
  const V d42 = hn::Sub(x[4], x[2]), d31 = hn::Sub(x[3], x[1]);
  t[0] = hn::Add(Times(4, hn::Sub(x[0], x[2])), d42);
  t[1] = hn::Sub(hn::Add(x[3], x[4]), Times(4, hn::Add(x[1], x[2])));
  t[2] = hn::Add(hn::Sub(x[4], x[3]), Times(4, hn::Sub(x[1], x[2])));
  t[3] = hn::Add(d42, Times(2, d31));
  t[4] = hn::Sub(d42, Times(2, d31));
  t[5] = hn::Add(Times(4, hn::Sub(x[1], x[3])), hn::Sub(x[5], x[3]));
}

// A^T m: six values to four.
HWY_INLINE void OutputTransform6(const V (&m)[6], V (&y)[4]) {
  const V a = hn::Add(m[1], m[2]), b = hn::Sub(m[1], m[2]), c = hn::Add(m[3], m[4]), e = hn::Sub(m[3], m[4]);
  y[0] = hn::Add(hn::Add(m[0], a), c);
  y[1] = hn::Add(b, Times(2, e));
  y[2] = hn::Add(a, Times(4, c));
  y[3] = hn::Add(hn::Add(b, Times(8, e)), m[5]);
}

// A y, the adjoint of OutputTransform6: four values to six.
HWY_INLINE void OutputAdjoint6(const V (&y)[4], V (&g)[6]) {
  const V p = hn::Add(y[0], y[2]), q = hn::Add(y[1], y[3]);
  const V r = hn::Add(y[0], Times(4, y[2])), s = Times(2, hn::Add(y[1], Times(4, y[3])));
  g[0] = y[0];
  g[1] = hn::Add(p, q);
  g[2] = hn::Sub(p, q);
  g[3] = hn::Add(r, s);
  g[4] = hn::Sub(r, s);
  g[5] = y[3];
}

void Winograd4Input(const WinogradPlane& x, int64_t ty0, int64_t ty1, int64_t tw, float* band, float* v,
                    int64_t ldxi) {
  const D d;
  const int64_t pitch = 4 * tw + 2;
  FillBand(x, 4, ty0, ty1, tw, band);
  for (int64_t r = 0; r < ty1 - ty0; ++r) {
    const float* top = band + 4 * r * pitch;
    float* out = v + r * tw;
    for (int64_t tx = 0; tx < tw; tx += kLanes) {
      V h[6][6];  // h[k] = row k of the tile times B
      for (int k = 0; k < 6; ++k) {
        const float* row = top + k * pitch + 4 * tx;
        V c[6], unused0, unused1;
        hn::LoadInterleaved4(d, row, c[0], c[1], c[2], c[3]);
        hn::LoadInterleaved4(d, row + 4, c[4], c[5], unused0, unused1);
        InputTransform6(c, h[k]);
      }
      for (int j = 0; j < 6; ++j) {  // B^T (d B), column j: xi = 6 i + j
        const V col[6] = {h[0][j], h[1][j], h[2][j], h[3][j], h[4][j], h[5][j]};
        V t[6];
        InputTransform6(col, t);
        for (int i = 0; i < 6; ++i) hn::StoreU(t[i], d, out + (6 * i + j) * ldxi + tx);
      }
    }
  }
}

// Stores the 4 kLanes output columns starting at column `col` of a row of width wo, clipped to it.
HWY_INLINE void StoreQuads(const V (&q)[4], float* HWY_RESTRICT row, int64_t col, int64_t wo) {
  const D d;
  if (col + 4 * kLanes <= wo) {
    hn::StoreInterleaved4(q[0], q[1], q[2], q[3], d, row + col);
    return;
  }
  HWY_ALIGN float tmp[4 * kLanes];
  hn::StoreInterleaved4(q[0], q[1], q[2], q[3], d, tmp);
  for (int64_t i = 0; i < wo - col; ++i) row[col + i] = tmp[i];
}

void Winograd4Output(const float* m, int64_t ldxi, int64_t ty0, int64_t ty1, int64_t tw, float* y, int64_t ho,
                     int64_t wo) {
  const D d;
  for (int64_t ty = ty0; ty < ty1; ++ty) {
    const float* in = m + (ty - ty0) * tw;
    const int64_t out_rows = ho - 4 * ty < 4 ? ho - 4 * ty : 4;
    for (int64_t tx = 0; tx < tw; tx += kLanes) {
      V s[4][6];  // A^T M, column j at a time
      for (int j = 0; j < 6; ++j) {
        V col[6], t[4];
        for (int i = 0; i < 6; ++i) col[i] = hn::LoadU(d, in + (6 * i + j) * ldxi + tx);
        OutputTransform6(col, t);
        for (int i = 0; i < 4; ++i) s[i][j] = t[i];
      }
      for (int64_t i = 0; i < out_rows; ++i) {  // (A^T M) A, row i
        V q[4];
        OutputTransform6(s[i], q);
        StoreQuads(q, y + (4 * ty + i) * wo, 4 * tx, wo);
      }
    }
  }
}

// Loads the 4 kLanes columns of a row starting at `col` as four de-interleaved vectors, zero past wo.
HWY_INLINE void LoadQuads(const float* HWY_RESTRICT row, int64_t col, int64_t wo, V (&q)[4]) {
  const D d;
  if (col + 4 * kLanes <= wo) {
    hn::LoadInterleaved4(d, row + col, q[0], q[1], q[2], q[3]);
    return;
  }
  HWY_ALIGN float tmp[4 * kLanes] = {};
  for (int64_t i = 0; i < wo - col; ++i) tmp[i] = row[col + i];
  hn::LoadInterleaved4(d, tmp, q[0], q[1], q[2], q[3]);
}

void Winograd4OutputAdjoint(const float* gy, int64_t ho, int64_t wo, int64_t ty0, int64_t ty1, int64_t tw,
                            float* g, int64_t ldxi) {
  const D d;
  for (int64_t ty = ty0; ty < ty1; ++ty) {
    float* out = g + (ty - ty0) * tw;
    const int64_t in_rows = ho - 4 * ty < 4 ? ho - 4 * ty : 4;
    for (int64_t tx = 0; tx < tw; tx += kLanes) {
      V h[4][6];  // row a of dy times A^T (rows past ho are zero)
      for (int a = 0; a < 4; ++a) {
        V q[4] = {hn::Zero(d), hn::Zero(d), hn::Zero(d), hn::Zero(d)};
        if (a < in_rows) LoadQuads(gy + (4 * ty + a) * wo, 4 * tx, wo, q);
        OutputAdjoint6(q, h[a]);
      }
      for (int j = 0; j < 6; ++j) {  // A (dy A^T), column j: xi = 6 i + j
        const V col[4] = {h[0][j], h[1][j], h[2][j], h[3][j]};
        V t[6];
        OutputAdjoint6(col, t);
        for (int i = 0; i < 6; ++i) hn::StoreU(t[i], d, out + (6 * i + j) * ldxi + tx);
      }
    }
  }
}

}  // namespace

void FillWinogradKernels(SimdKernels* k) {
  k->winograd2 = {Winograd2Input, Winograd2Output, Winograd2OutputAdjoint};
  k->winograd4 = {Winograd4Input, Winograd4Output, Winograd4OutputAdjoint};
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::cpu {
HWY_EXPORT(FillWinogradKernels);
void fill_winograd_kernels(SimdKernels& k) { HWY_DYNAMIC_DISPATCH(FillWinogradKernels)(&k); }
}  // namespace sl::cpu
#endif
