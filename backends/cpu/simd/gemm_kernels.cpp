// The f32 GEMM register tiles, written once against Highway's vector API and compiled for every SIMD
// target (foreach_target). A tile keeps rows x nv vectors of C in registers while k streams past:
// each step loads nv vectors of one B row and broadcasts one A value per row. Its size comes from
// the target, never from the machine it was tuned on: rows * nv accumulators + nv B vectors + one
// broadcast fit the register file, so AVX2 (16 registers of 8 floats) runs 6 x 16 tiles, AVX-512
// (32 of 16) 14 x 32, and short panels (8 rows) take a third vector (8 x 48 on AVX-512).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/gemm_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "backends/cpu/simd/kernels.h"
#include "backends/cpu/simd/tile.h"
#include "backends/cpu/simd/transpose-inl.h"

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
constexpr int kLanes = static_cast<int>(hn::MaxLanes(D()));
constexpr TileShape kShape = tile_shape(SL_SIMD_VECTOR_REGISTERS);
constexpr int kMaxRows = kShape.max_rows;
// k steps per block of the packed-A GEMM: a block of B rows one sweep wide (16 KiB on AVX-512) and
// of A (7 KiB per 14-row panel) fit L1 together.
constexpr int64_t kBlockK = 128;

// C[R x NV*kLanes] (+)= A * B: a(r, q) is A's element (r, q), b(q) points at B's row q (this tile's
// first column). One FMA chain per element of C, over q in order.
template <int R, int NV, class AReader, class BRow>
HWY_INLINE void Tile(int64_t k, const AReader& a, const BRow& b, float* HWY_RESTRICT c, int64_t ldc, bool accumulate) {
  const D d;
  V acc[R][NV];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[r][j] = accumulate ? hn::LoadU(d, c + r * ldc + j * kLanes) : hn::Zero(d);
  for (int64_t q = 0; q < k; ++q) {
    const float* HWY_RESTRICT bq = b(q);
    V bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = hn::LoadU(d, bq + j * kLanes);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const V ar = hn::Set(d, a(r, q));
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[r][j] = hn::MulAdd(ar, bv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) hn::StoreU(acc[r][j], d, c + r * ldc + j * kLanes);
}

// Calls f(std::integral_constant<int, rows>) for rows in [1, kMaxRows], so every panel height runs a
// tile compiled for exactly that many rows (no padded rows, no wasted multiply-adds).
template <int R = kMaxRows, class F>
HWY_INLINE void WithRows(int rows, const F& f) {
  if constexpr (R > 0) {
    if (rows == R) return f(std::integral_constant<int, R>{});
    WithRows<R - 1>(rows, f);
  }
}

// Columns [j0, j1) (whole vectors) of an R-row panel: tiles of the panel's width, then single vectors.
template <int R, class AReader, class BRows>
HWY_INLINE void PanelColumns(int64_t k, const AReader& a, const BRows& brow, int64_t j0, int64_t j1, float* c,
                             int64_t ldc, bool accumulate) {
  constexpr int NV = tile_vectors(SL_SIMD_VECTOR_REGISTERS, R);
  int64_t j = j0;
  for (; j + NV * kLanes <= j1; j += NV * kLanes)
    Tile<R, NV>(k, a, [&](int64_t q) { return brow(q) + j; }, c + j, ldc, accumulate);
  for (; j + kLanes <= j1; j += kLanes) Tile<R, 1>(k, a, [&](int64_t q) { return brow(q) + j; }, c + j, ldc, accumulate);
}

// The last n % kLanes columns, through the vector tiles: B's columns copied into a zero-padded k x
// kLanes block, C's into an m x kLanes block (with their values when accumulating), and back.
struct TailBuffers {
  std::vector<float> b, c;
  std::vector<const float*> rows;
};

TailBuffers& tail_buffers() {
  thread_local TailBuffers t;
  return t;
}

void LoadTail(int64_t k, int64_t m, int64_t width, const float* const* brow, int64_t j, float* c, int64_t ldc,
              bool accumulate, TailBuffers& t) {
  t.b.assign(static_cast<size_t>(k * kLanes), 0.0f);
  t.rows.resize(static_cast<size_t>(k));
  for (int64_t q = 0; q < k; ++q) {
    std::copy(brow[q] + j, brow[q] + j + width, t.b.data() + q * kLanes);
    t.rows[static_cast<size_t>(q)] = t.b.data() + q * kLanes;
  }
  t.c.assign(static_cast<size_t>(m * kLanes), 0.0f);
  if (accumulate)
    for (int64_t i = 0; i < m; ++i) std::copy(c + i * ldc + j, c + i * ldc + j + width, t.c.data() + i * kLanes);
}

void StoreTail(int64_t m, int64_t width, const TailBuffers& t, float* c, int64_t ldc, int64_t j) {
  for (int64_t i = 0; i < m; ++i) std::copy(t.c.data() + i * kLanes, t.c.data() + i * kLanes + width, c + i * ldc + j);
}

}  // namespace

void PackA(int64_t m, int64_t k, const float* a, int64_t lda, bool trans, PackedA& out) {
  out.m = m;
  out.k = k;
  out.panels = panel_count(m, kMaxRows);
  out.data.resize(static_cast<size_t>(m * k));
  for (int64_t p = 0; p < out.panels; ++p) {
    const int64_t r0 = panel_row(m, out.panels, p), rows = panel_row(m, out.panels, p + 1) - r0;
    float* dst = out.data.data() + r0 * k;  // k-major: dst[q * rows + r] = A(r0 + r, q)
    if (trans) {
      for (int64_t q = 0; q < k; ++q) std::copy(a + q * lda + r0, a + q * lda + r0 + rows, dst + q * rows);
    } else {
      Transpose(a + r0 * lda, lda, rows, k, dst, rows);
    }
  }
}

void GemmPacked(const PackedA& pa, int64_t n, const float* const* brow, float* c, int64_t ldc, bool accumulate) {
  const int64_t m = pa.m, k = pa.k;
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  // Every panel's tile rows over k steps [p0, p0 + kc): the packed panel is k-major, so a k block of
  // it is contiguous from ap + p0 * rows.
  auto each_panel = [&](int64_t p0, const auto& body) {
    for (int64_t p = 0; p < pa.panels; ++p) {
      const int64_t r0 = panel_row(m, pa.panels, p), rows = panel_row(m, pa.panels, p + 1) - r0;
      WithRows(static_cast<int>(rows), [&](auto rc) HWY_ATTR {
        constexpr int R = decltype(rc)::value;
        const float* ap = pa.data.data() + r0 * k + p0 * R;
        body(rc, [ap](int r, int64_t q) { return ap[q * R + r]; }, r0);
      });
    }
  };
  const int64_t full = n / kLanes * kLanes;
  // Columns handled per sweep over the row panels: one tile of the first panel (the others have
  // the same width but in rare shapes). With k cut into blocks of kBlockK, a sweep's block of B and
  // the panels' blocks of A stay in L1 while every panel reads them; the FMA chain of each element
  // still runs over k in order (a block continues from the previous block's C).
  const int64_t sweep = tile_vectors(SL_SIMD_VECTOR_REGISTERS, static_cast<int>(panel_row(m, pa.panels, 1))) * kLanes;
  TailBuffers* t = nullptr;
  if (full < n) {
    t = &tail_buffers();
    LoadTail(k, m, n - full, brow, full, c, ldc, accumulate, *t);
  }
  for (int64_t p0 = 0; p0 < k; p0 += kBlockK) {
    const int64_t kc = std::min(kBlockK, k - p0);
    const bool acc = accumulate || p0 > 0;
    const float* const* rows = brow + p0;
    auto rows_of = [rows](int64_t q) { return rows[q]; };
    for (int64_t j0 = 0; j0 < full; j0 += sweep) {
      const int64_t j1 = std::min(j0 + sweep, full);
      each_panel(p0, [&](auto rc, const auto& a, int64_t r0) HWY_ATTR {
        PanelColumns<decltype(rc)::value>(kc, a, rows_of, j0, j1, c + r0 * ldc, ldc, acc);
      });
    }
    if (t) {
      const float* const* trows = t->rows.data() + p0;
      each_panel(p0, [&](auto rc, const auto& a, int64_t r0) HWY_ATTR {
        Tile<decltype(rc)::value, 1>(kc, a, [trows](int64_t q) { return trows[q]; }, t->c.data() + r0 * kLanes, kLanes,
                                     acc);
      });
    }
  }
  if (t) StoreTail(m, n - full, *t, c, ldc, full);
}

void GemmRowsA(int64_t m, int64_t n, int64_t k, const float* const* arow, const float* b, int64_t ldb, float* c,
               int64_t ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  const int64_t panels = panel_count(m, kMaxRows);
  const int64_t full = n / kLanes * kLanes;
  auto b_rows = [b, ldb](int64_t q) { return b + q * ldb; };
  TailBuffers* t = nullptr;
  if (full < n) {  // B's last columns zero-padded to one vector, once for all row panels
    t = &tail_buffers();
    t->b.assign(static_cast<size_t>(k * kLanes), 0.0f);
    for (int64_t q = 0; q < k; ++q) std::copy(b + q * ldb + full, b + q * ldb + n, t->b.data() + q * kLanes);
  }
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t r0 = panel_row(m, panels, p), rows = panel_row(m, panels, p + 1) - r0;
    const float* const* ar = arow + r0;
    auto a = [ar](int r, int64_t q) { return ar[r][q]; };
    float* cp = c + r0 * ldc;
    WithRows(static_cast<int>(rows), [&](auto rc) HWY_ATTR {
      constexpr int R = decltype(rc)::value;
      PanelColumns<R>(k, a, b_rows, 0, full, cp, ldc, accumulate);
      if (!t) return;
      float block[R * kLanes] = {};
      if (accumulate)
        for (int r = 0; r < R; ++r) std::copy(cp + r * ldc + full, cp + r * ldc + n, block + r * kLanes);
      const float* tb = t->b.data();
      Tile<R, 1>(k, a, [tb](int64_t q) { return tb + q * kLanes; }, block, kLanes, accumulate);
      for (int r = 0; r < R; ++r) std::copy(block + r * kLanes, block + r * kLanes + (n - full), cp + r * ldc + full);
    });
  }
}

void FillGemmKernels(SimdKernels* k) {
  k->f32_lanes = kLanes;
  k->vector_registers = SL_SIMD_VECTOR_REGISTERS;
  k->gemm_rows = kMaxRows;
  k->gemm_cols = tile_vectors(SL_SIMD_VECTOR_REGISTERS, kMaxRows) * kLanes;
  k->pack_a = PackA;
  k->gemm_packed = GemmPacked;
  k->gemm_rows_a = GemmRowsA;
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::cpu {
HWY_EXPORT(FillGemmKernels);
void fill_gemm_kernels(SimdKernels& k) { HWY_DYNAMIC_DISPATCH(FillGemmKernels)(&k); }
}  // namespace sl::cpu
#endif
