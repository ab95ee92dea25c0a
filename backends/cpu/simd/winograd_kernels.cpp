// The transforms of Winograd's F(2x2, 3x3) and F(4x4, 3x3) convolutions (backends/cpu/winograd.cpp),
// compiled for every SIMD target. Each runs a vector of tiles at a time, along a tile row or across
// several tile rows narrower than a vector (ForTileVectors).
// F(2x2, 3x3): tile tx reads input columns 2tx..2tx+3, which de-interleaved into even and odd columns
// are E[tx], O[tx], E[tx+1], O[tx+1]: two 2-way interleaved loads. F(4x4, 3x3): columns 4tx..4tx+5,
// two 4-way interleaved loads. The transforms add, subtract and multiply by powers of two only (F(4x4,
// 3x3)'s -5 written as -4 - 1), so every product is exact and contracting it into an FMA changes
// nothing: every target computes the same bits.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/winograd_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <type_traits>

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

// ---- Tile rows per vector. A tile row narrower than a vector that divides it (tw = 4 on AVX2, 4 or 8
// on AVX-512: CIFAR's 8-, 16- and 32-wide maps) would leave 1 - 1/R of the lanes idle; R consecutive
// tile rows fill the vector instead. Their tiles are adjacent in V (tile (ty, tx) at (ty - ty0) tw +
// tx), so only the loads from the band or plane and the stores to the plane go a tile row at a time,
// in parts of tw lanes joined into one vector; the arithmetic per lane, and so every bit, is the same.

// The descriptor of one tile row's part of a vector of R tile rows.
template <int R>
struct RowTagOf {
  using type = hn::Half<typename RowTagOf<R / 2>::type>;
};
template <>
struct RowTagOf<1> {
  using type = D;
};

// parts[0] in the lowest lanes.
template <int R, class DT, class VS>
HWY_INLINE hn::Vec<DT> Join(DT dt, const VS* parts) {
  if constexpr (R == 1) {
    (void)dt;
    return parts[0];
  } else {
#if HWY_TARGET != HWY_SCALAR  // one lane: R is always 1 (and there is no Combine)
    const hn::Half<DT> dh;
    return hn::Combine(dt, Join<R / 2>(dh, parts + R / 2), Join<R / 2>(dh, parts));
#endif
  }
}

template <int R, class DT, class VS>
HWY_INLINE void Split(DT dt, hn::Vec<DT> v, VS* parts) {
  if constexpr (R == 1) {
    (void)dt;
    parts[0] = v;
  } else {
#if HWY_TARGET != HWY_SCALAR
    const hn::Half<DT> dh;
    Split<R / 2>(dh, hn::LowerHalf(dh, v), parts);
    Split<R / 2>(dh, hn::UpperHalf(dh, v), parts + R / 2);
#endif
  }
}

// Calls f(std::integral_constant<int, R>, r, tx) for each vector of tiles of tile rows [0, rows): R
// rows (tx = 0) where they fill a vector, else one row in vectors of kLanes tiles from tile tx.
template <class F>
HWY_INLINE void ForTileVectors(int64_t rows, int64_t tw, const F& f) {
  int64_t r = 0;
  if constexpr (kLanes >= 16) {
    if (tw * 4 == kLanes)
      for (; r + 4 <= rows; r += 4) f(std::integral_constant<int, 4>(), r, 0);
  }
  if constexpr (kLanes >= 8) {
    if (tw * 2 == kLanes)
      for (; r + 2 <= rows; r += 2) f(std::integral_constant<int, 2>(), r, 0);
  }
  for (; r < rows; ++r)
    for (int64_t tx = 0; tx < tw; tx += kLanes) f(std::integral_constant<int, 1>(), r, tx);
}

// The columns of a vector of tiles, from its R parts (tile rows) at seg[q]. On AVX-512 a 4-way
// de-interleave of four whole vectors costs 8 two-table permutes (ConcatEven / ConcatOdd are one
// instruction each there), where LoadInterleaved4 of R parts shuffles within and across blocks and then
// joins the parts: 14 shuffles instead of about 50 per row of F(4x4, 3x3)'s input tiles (R = 2), and
// the stage-1 and -2 convs of resnet20 ran 5-15 % faster. Other targets keep the interleaved loads
// (their ConcatEven/Odd take two shuffles each). Both give the same values.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
#define SL_WINOGRAD_CONCAT_DEINTERLEAVE 1

// The vector of floats i < 4 of a vector of tiles spread over R parts of 4 kLanes / R floats at seg[q]:
// concatenated, they are the tiles' 4 columns each, tile after tile.
template <int R>
HWY_INLINE V LoadQuarter(const float* const (&seg)[R], int i, int64_t offset) {
  return hn::LoadU(D(), seg[i * R / 4] + (i % (4 / R)) * kLanes + offset);
}

// The same for F(2x2, 3x3)'s 2 columns a tile, parts of 2 kLanes / R floats: a vector is one part pair
// joined (R = 4) or a part or a piece of one.
template <int R>
HWY_INLINE V LoadHalfOfPairs(const float* const (&seg)[R], int i, int64_t offset) {
  if constexpr (R <= 2) {
    return hn::LoadU(D(), seg[i * R / 2] + (i % (2 / R)) * kLanes + offset);
  } else {
    const hn::Half<D> dh;
    return hn::Combine(D(), hn::LoadU(dh, seg[2 * i + 1] + offset), hn::LoadU(dh, seg[2 * i] + offset));
  }
}
#endif

// c[j][t] = column j of tile t (columns 4t..4t+3 of its row) and c[4], c[5] = columns 4t + 4, 4t + 5.
template <int R>
HWY_INLINE void DeinterleaveColumns(const float* const (&seg)[R], V (&c)[6]) {
  const D d;
#ifdef SL_WINOGRAD_CONCAT_DEINTERLEAVE  // concatenations of even and odd lanes, twice
  const V x0 = LoadQuarter<R>(seg, 0, 0), x1 = LoadQuarter<R>(seg, 1, 0), x2 = LoadQuarter<R>(seg, 2, 0),
          x3 = LoadQuarter<R>(seg, 3, 0);
  const V even_lo = hn::ConcatEven(d, x1, x0), even_hi = hn::ConcatEven(d, x3, x2);
  const V odd_lo = hn::ConcatOdd(d, x1, x0), odd_hi = hn::ConcatOdd(d, x3, x2);
  c[0] = hn::ConcatEven(d, even_hi, even_lo);
  c[1] = hn::ConcatEven(d, odd_hi, odd_lo);
  c[2] = hn::ConcatOdd(d, even_hi, even_lo);
  c[3] = hn::ConcatOdd(d, odd_hi, odd_lo);
  const V y0 = LoadQuarter<R>(seg, 0, 4), y1 = LoadQuarter<R>(seg, 1, 4), y2 = LoadQuarter<R>(seg, 2, 4),
          y3 = LoadQuarter<R>(seg, 3, 4);
  c[4] = hn::ConcatEven(d, hn::ConcatEven(d, y3, y2), hn::ConcatEven(d, y1, y0));
  c[5] = hn::ConcatEven(d, hn::ConcatOdd(d, y3, y2), hn::ConcatOdd(d, y1, y0));
#else
  const typename RowTagOf<R>::type ds;
  hn::Vec<decltype(ds)> parts[6][R], unused0, unused1;
  for (int q = 0; q < R; ++q) {
    hn::LoadInterleaved4(ds, seg[q], parts[0][q], parts[1][q], parts[2][q], parts[3][q]);
    hn::LoadInterleaved4(ds, seg[q] + 4, parts[4][q], parts[5][q], unused0, unused1);
  }
  for (int j = 0; j < 6; ++j) c[j] = Join<R>(d, parts[j]);
#endif
}

// F(2x2, 3x3): c[j][t] = column 2t + j (j < 4).
template <int R>
HWY_INLINE void DeinterleavePairs(const float* const (&seg)[R], V (&c)[4]) {
  const D d;
#ifdef SL_WINOGRAD_CONCAT_DEINTERLEAVE
  const V x0 = LoadHalfOfPairs<R>(seg, 0, 0), x1 = LoadHalfOfPairs<R>(seg, 1, 0);
  const V y0 = LoadHalfOfPairs<R>(seg, 0, 2), y1 = LoadHalfOfPairs<R>(seg, 1, 2);
  c[0] = hn::ConcatEven(d, x1, x0);
  c[1] = hn::ConcatOdd(d, x1, x0);
  c[2] = hn::ConcatEven(d, y1, y0);
  c[3] = hn::ConcatOdd(d, y1, y0);
#else
  const typename RowTagOf<R>::type ds;
  hn::Vec<decltype(ds)> parts[4][R];
  for (int q = 0; q < R; ++q) {
    hn::LoadInterleaved2(ds, seg[q], parts[0][q], parts[1][q]);
    hn::LoadInterleaved2(ds, seg[q] + 2, parts[2][q], parts[3][q]);
  }
  for (int j = 0; j < 4; ++j) c[j] = Join<R>(d, parts[j]);
#endif
}
#undef SL_WINOGRAD_CONCAT_DEINTERLEAVE

// ---- F(2x2, 3x3).

// One row of d B for a vector of tiles whose parts start at rows[q]: the row's columns 2tx..2tx+3
// are c0..c3.
struct Row4 {
  V a0, a1, a2, a3;
};

template <int R>
HWY_INLINE Row4 RowTimesB(const float* const (&rows)[R]) {
  V c[4];
  DeinterleavePairs<R>(rows, c);
  return {hn::Sub(c[0], c[2]), hn::Add(c[1], c[2]), hn::Sub(c[2], c[1]), hn::Sub(c[1], c[3])};
}

void Winograd2Input(const WinogradPlane& x, int64_t ty0, int64_t ty1, int64_t tw, float* band, float* v,
                    int64_t ldxi) {
  const int64_t pitch = 2 * tw + 2;
  FillBand(x, 2, ty0, ty1, tw, band);
  ForTileVectors(ty1 - ty0, tw, [&](auto rows_per_vector, int64_t r, int64_t tx) {
    constexpr int R = decltype(rows_per_vector)::value;
    const D d;
    float* out = v + r * tw + tx;
    auto row_k = [&](int k) {  // band row k of each part's tiles
      const float* rows[R];
      for (int q = 0; q < R; ++q) rows[q] = band + (2 * (r + q) + k) * pitch + 2 * tx;
      return RowTimesB<R>(rows);
    };
    const Row4 d0 = row_k(0), d1 = row_k(1), d2 = row_k(2), d3 = row_k(3);
    // B^T (d B), column j of the four rows at a time: xi = 4 i + j.
    auto column = [&](int j, V x0, V x1, V x2, V x3) {
      hn::StoreU(hn::Sub(x0, x2), d, out + (0 + j) * ldxi);
      hn::StoreU(hn::Add(x1, x2), d, out + (4 + j) * ldxi);
      hn::StoreU(hn::Sub(x2, x1), d, out + (8 + j) * ldxi);
      hn::StoreU(hn::Sub(x1, x3), d, out + (12 + j) * ldxi);
    };
    column(0, d0.a0, d1.a0, d2.a0, d3.a0);
    column(1, d0.a1, d1.a1, d2.a1, d3.a1);
    column(2, d0.a2, d1.a2, d2.a2, d3.a2);
    column(3, d0.a3, d1.a3, d2.a3, d3.a3);
  });
}

// Stores the 2 Lanes(ds) output columns starting at column `col` of a row of width wo, clipped to it.
template <class DS>
HWY_INLINE void StorePairs(DS ds, hn::Vec<DS> even, hn::Vec<DS> odd, float* HWY_RESTRICT row, int64_t col,
                           int64_t wo) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(ds));
  if (col + 2 * n <= wo) {
    hn::StoreInterleaved2(even, odd, ds, row + col);
    return;
  }
  HWY_ALIGN float tmp[2 * kLanes];
  hn::StoreInterleaved2(even, odd, ds, tmp);
  for (int64_t i = 0; i < wo - col; ++i) row[col + i] = tmp[i];
}

void Winograd2Output(const float* m, int64_t ldxi, int64_t ty0, int64_t ty1, int64_t tw, float* y, int64_t ho,
                     int64_t wo) {
  ForTileVectors(ty1 - ty0, tw, [&](auto rows_per_vector, int64_t r, int64_t tx) {
    constexpr int R = decltype(rows_per_vector)::value;
    const D d;
    const typename RowTagOf<R>::type ds;
    const float* in = m + r * tw + tx;
    auto at = [&](int xi) { return hn::LoadU(d, in + xi * ldxi); };
    // A^T M: s0 = M0 + M1 + M2, s1 = M1 - M2 - M3 (rows of M), column j at a time.
    V s0[4], s1[4];
    for (int j = 0; j < 4; ++j) {
      const V m0 = at(j), m1 = at(4 + j), m2 = at(8 + j), m3 = at(12 + j);
      s0[j] = hn::Add(hn::Add(m0, m1), m2);
      s1[j] = hn::Sub(hn::Sub(m1, m2), m3);
    }
    // (A^T M) A, the same combination over columns: output rows 0 and 1 of each tile, even and odd
    // columns.
    hn::Vec<decltype(ds)> e0[R], o0[R], e1[R], o1[R];
    Split<R>(d, hn::Add(hn::Add(s0[0], s0[1]), s0[2]), e0);
    Split<R>(d, hn::Sub(hn::Sub(s0[1], s0[2]), s0[3]), o0);
    Split<R>(d, hn::Add(hn::Add(s1[0], s1[1]), s1[2]), e1);
    Split<R>(d, hn::Sub(hn::Sub(s1[1], s1[2]), s1[3]), o1);
    for (int q = 0; q < R; ++q) {
      const int64_t ty = ty0 + r + q;
      float* row0 = y + 2 * ty * wo;
      StorePairs(ds, e0[q], o0[q], row0, 2 * tx, wo);
      if (2 * ty + 1 < ho) StorePairs(ds, e1[q], o1[q], row0 + wo, 2 * tx, wo);
    }
  });
}

// Loads the 2 Lanes(ds) columns of a row starting at `col` as even and odd vectors, zero past wo.
template <class DS>
HWY_INLINE void LoadPairs(DS ds, const float* HWY_RESTRICT row, int64_t col, int64_t wo, hn::Vec<DS>& even,
                          hn::Vec<DS>& odd) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(ds));
  if (col + 2 * n <= wo) {
    hn::LoadInterleaved2(ds, row + col, even, odd);
    return;
  }
  HWY_ALIGN float tmp[2 * kLanes] = {};
  for (int64_t i = 0; i < wo - col; ++i) tmp[i] = row[col + i];
  hn::LoadInterleaved2(ds, tmp, even, odd);
}

void Winograd2OutputAdjoint(const float* gy, int64_t ho, int64_t wo, int64_t ty0, int64_t ty1, int64_t tw,
                            float* g, int64_t ldxi) {
  ForTileVectors(ty1 - ty0, tw, [&](auto rows_per_vector, int64_t r, int64_t tx) {
    constexpr int R = decltype(rows_per_vector)::value;
    const D d;
    const typename RowTagOf<R>::type ds;
    float* out = g + r * tw + tx;
    hn::Vec<decltype(ds)> p00[R], p01[R], p10[R], p11[R];
    for (int q = 0; q < R; ++q) {
      const int64_t ty = ty0 + r + q;
      const float* row0 = gy + 2 * ty * wo;
      p10[q] = hn::Zero(ds);
      p11[q] = hn::Zero(ds);
      LoadPairs(ds, row0, 2 * tx, wo, p00[q], p01[q]);
      if (2 * ty + 1 < ho) LoadPairs(ds, row0 + wo, 2 * tx, wo, p10[q], p11[q]);
    }
    const V y00 = Join<R>(d, p00), y01 = Join<R>(d, p01), y10 = Join<R>(d, p10), y11 = Join<R>(d, p11);
    // h = A dy (4 x 2): rows dy0, dy0 + dy1, dy0 - dy1, -dy1; then h A^T over columns likewise.
    const V h[4][2] = {{y00, y01},
                       {hn::Add(y00, y10), hn::Add(y01, y11)},
                       {hn::Sub(y00, y10), hn::Sub(y01, y11)},
                       {hn::Neg(y10), hn::Neg(y11)}};
    for (int i = 0; i < 4; ++i) {
      hn::StoreU(h[i][0], d, out + (4 * i + 0) * ldxi);
      hn::StoreU(hn::Add(h[i][0], h[i][1]), d, out + (4 * i + 1) * ldxi);
      hn::StoreU(hn::Sub(h[i][0], h[i][1]), d, out + (4 * i + 2) * ldxi);
      hn::StoreU(hn::Neg(h[i][1]), d, out + (4 * i + 3) * ldxi);
    }
  });
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
  const int64_t pitch = 4 * tw + 2;
  FillBand(x, 4, ty0, ty1, tw, band);
  ForTileVectors(ty1 - ty0, tw, [&](auto rows_per_vector, int64_t r, int64_t tx) {
    constexpr int R = decltype(rows_per_vector)::value;
    const D d;
    float* out = v + r * tw + tx;
    V h[6][6];  // h[k] = row k of the tile times B
    for (int k = 0; k < 6; ++k) {
      const float* seg[R];
      for (int q = 0; q < R; ++q) seg[q] = band + (4 * (r + q) + k) * pitch + 4 * tx;
      V cols[6];
      DeinterleaveColumns<R>(seg, cols);
      InputTransform6(cols, h[k]);
    }
    for (int j = 0; j < 6; ++j) {  // B^T (d B), column j: xi = 6 i + j
      const V col[6] = {h[0][j], h[1][j], h[2][j], h[3][j], h[4][j], h[5][j]};
      V t[6];
      InputTransform6(col, t);
      for (int i = 0; i < 6; ++i) hn::StoreU(t[i], d, out + (6 * i + j) * ldxi);
    }
  });
}

// Stores the 4 Lanes(ds) output columns starting at column `col` of a row of width wo, clipped to it.
template <class DS>
HWY_INLINE void StoreQuads(DS ds, const hn::Vec<DS> (&q)[4], float* HWY_RESTRICT row, int64_t col, int64_t wo) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(ds));
  if (col + 4 * n <= wo) {
    hn::StoreInterleaved4(q[0], q[1], q[2], q[3], ds, row + col);
    return;
  }
  HWY_ALIGN float tmp[4 * kLanes];
  hn::StoreInterleaved4(q[0], q[1], q[2], q[3], ds, tmp);
  for (int64_t i = 0; i < wo - col; ++i) row[col + i] = tmp[i];
}

void Winograd4Output(const float* m, int64_t ldxi, int64_t ty0, int64_t ty1, int64_t tw, float* y, int64_t ho,
                     int64_t wo) {
  ForTileVectors(ty1 - ty0, tw, [&](auto rows_per_vector, int64_t r, int64_t tx) {
    constexpr int R = decltype(rows_per_vector)::value;
    const D d;
    const typename RowTagOf<R>::type ds;
    const float* in = m + r * tw + tx;
    V s[4][6];  // A^T M, column j at a time
    for (int j = 0; j < 6; ++j) {
      V col[6], t[4];
      for (int i = 0; i < 6; ++i) col[i] = hn::LoadU(d, in + (6 * i + j) * ldxi);
      OutputTransform6(col, t);
      for (int i = 0; i < 4; ++i) s[i][j] = t[i];
    }
    // (A^T M) A, output row i of each tile; the first part's tile row is the one most inside the plane.
    for (int64_t i = 0; i < 4 && 4 * (ty0 + r) + i < ho; ++i) {
      V q[4];
      OutputTransform6(s[i], q);
      hn::Vec<decltype(ds)> parts[R][4];
      for (int c = 0; c < 4; ++c) {
        hn::Vec<decltype(ds)> split[R];
        Split<R>(d, q[c], split);
        for (int p = 0; p < R; ++p) parts[p][c] = split[p];
      }
      for (int p = 0; p < R; ++p) {
        const int64_t row = 4 * (ty0 + r + p) + i;
        if (row < ho) StoreQuads(ds, parts[p], y + row * wo, 4 * tx, wo);
      }
    }
  });
}

// Loads the 4 Lanes(ds) columns of a row starting at `col` as four de-interleaved vectors, zero past wo.
template <class DS>
HWY_INLINE void LoadQuads(DS ds, const float* HWY_RESTRICT row, int64_t col, int64_t wo, hn::Vec<DS> (&q)[4]) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(ds));
  if (col + 4 * n <= wo) {
    hn::LoadInterleaved4(ds, row + col, q[0], q[1], q[2], q[3]);
    return;
  }
  HWY_ALIGN float tmp[4 * kLanes] = {};
  for (int64_t i = 0; i < wo - col; ++i) tmp[i] = row[col + i];
  hn::LoadInterleaved4(ds, tmp, q[0], q[1], q[2], q[3]);
}

void Winograd4OutputAdjoint(const float* gy, int64_t ho, int64_t wo, int64_t ty0, int64_t ty1, int64_t tw,
                            float* g, int64_t ldxi) {
  ForTileVectors(ty1 - ty0, tw, [&](auto rows_per_vector, int64_t r, int64_t tx) {
    constexpr int R = decltype(rows_per_vector)::value;
    const D d;
    const typename RowTagOf<R>::type ds;
    float* out = g + r * tw + tx;
    V h[4][6];  // row a of dy times A^T (rows past ho are zero)
    for (int a = 0; a < 4; ++a) {
      hn::Vec<decltype(ds)> parts[4][R];
      for (int p = 0; p < R; ++p) {
        const int64_t row = 4 * (ty0 + r + p) + a;
        hn::Vec<decltype(ds)> q[4] = {hn::Zero(ds), hn::Zero(ds), hn::Zero(ds), hn::Zero(ds)};
        if (row < ho) LoadQuads(ds, gy + row * wo, 4 * tx, wo, q);
        for (int c = 0; c < 4; ++c) parts[c][p] = q[c];
      }
      const V q[4] = {Join<R>(d, parts[0]), Join<R>(d, parts[1]), Join<R>(d, parts[2]), Join<R>(d, parts[3])};
      OutputAdjoint6(q, h[a]);
    }
    for (int j = 0; j < 6; ++j) {  // A (dy A^T), column j: xi = 6 i + j
      const V col[4] = {h[0][j], h[1][j], h[2][j], h[3][j]};
      V t[6];
      OutputAdjoint6(col, t);
      for (int i = 0; i < 6; ++i) hn::StoreU(t[i], d, out + (6 * i + j) * ldxi);
    }
  });
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
