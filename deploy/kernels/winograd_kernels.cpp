// Integer Winograd F(2x2, 3x3) for the deploy runtime's 3x3 stride-1 convs (see WinogradWeights in
// kernels.h), compiled per target with Highway. Without VNNI a group of 4 uint8 x int8 products
// costs pmaddubsw + pmaddwd + paddd; here 2 int16 x int16 products cost pmaddwd + paddd, and a 2x2
// tile needs 16 per channel instead of 36, so the multiplier ports do 2.25x fewer instructions per
// output. A block of tiles is transformed at once into V (int16, per position p, tile, channel);
// then wide layers run per position one GEMM of the block's tiles by U into int32 sums M and per
// tile the output transform, narrow ones fold each position's sums into a tile's 4 outputs in
// registers. A tile's 4 pixels go through the direct GEMM's epilogue side by side. The sums are
// exact integers, so the output is the direct GEMM's bit for bit.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "deploy/kernels/winograd_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "deploy/kernels/epilogue-inl.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "deploy/kernels/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace sl::deploy::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

// pmaddwd's targets. VNNI's vpdpbusd does 4 products a lane in one instruction, which the 2.25x
// fewer products do not beat; the scalar and NEON targets run the direct GEMM.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4
constexpr bool kHasWinograd = true;
#else
constexpr bool kHasWinograd = false;
#endif

// acc + per 32-bit lane a.low16 * b.low16 + a.high16 * b.high16 (exact: |V * U| < 2^21).
HWY_INLINE VI MulPairs(VI acc, VI a, VI b) {
#if HWY_TARGET == HWY_AVX3
  return hn::Add(acc, VI{_mm512_madd_epi16(a.raw, b.raw)});
#elif HWY_TARGET == HWY_AVX2
  return hn::Add(acc, VI{_mm256_madd_epi16(a.raw, b.raw)});
#elif HWY_TARGET == HWY_SSE4
  return hn::Add(acc, VI{_mm_madd_epi16(a.raw, b.raw)});
#else
  (void)a;
  (void)b;
  return acc;  // unused: kHasWinograd is false
#endif
}

// The input transform runs on int16 vectors of up to 16 channels of one pixel (256 bits): a
// pixel of resnet's 16 channels fills one on AVX2 and AVX-512 alike.
using D16 = hn::CappedTag<int16_t, 16>;
using V16 = hn::Vec<D16>;
using DU8h = hn::Rebind<uint8_t, D16>;
constexpr int64_t kLanes16 = static_cast<int64_t>(hn::MaxLanes(D16()));

constexpr int kPositions = 16;  // of a 4x4 transformed tile
// GEMM tile: rows (tiles) x nv vectors of sums + nv weight vectors + the broadcast word; one row
// pointer per tile (general registers, as in the direct GEMM).
constexpr int kMaxRows = 8;
constexpr int RowsFor(int nv) { return std::min(kMaxRows, (kRegisters - nv - 2) / nv); }
// The block GEMM's tiles per block: V and M within ~128 KiB (L2), at least a GEMM tile, at most 64.
constexpr int64_t kBlockBytes = 128 * 1024;

// Output channels per panel of U: the vectors of sums a GEMM tile keeps per row.
int64_t PanelWidth(int64_t cout) { return std::min<int64_t>(kMaxVectors, (cout + kLanes - 1) / kLanes) * kLanes; }

// U = (2G) g (2G)^T per output and input channel: G's halves doubled on both sides, so U is 4 times
// the textbook transform and integer.
void PackWinograd(const int8_t* w, int64_t cout, int64_t cin, WinogradWeights& out) {
  out.cout = cout;
  out.cin = cin;
  out.pairs = channel_stride(cin) / 2;
  out.panel_width = PanelWidth(cout);
  out.panels = (cout + out.panel_width - 1) / out.panel_width;
  out.data.assign(static_cast<size_t>(out.panels * kPositions * out.pairs * out.panel_width), 0);
  for (int64_t oc = 0; oc < cout; ++oc)
    for (int64_t ci = 0; ci < cin; ++ci) {
      int32_t g[3][3], t[4][3], u[4][4];
      for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) g[ky][kx] = w[((oc * 3 + ky) * 3 + kx) * cin + ci];
      for (int kx = 0; kx < 3; ++kx) {  // (2G) g: over the kernel's rows
        t[0][kx] = 2 * g[0][kx];
        t[1][kx] = g[0][kx] + g[1][kx] + g[2][kx];
        t[2][kx] = g[0][kx] - g[1][kx] + g[2][kx];
        t[3][kx] = 2 * g[2][kx];
      }
      for (int r = 0; r < 4; ++r) {  // (.) (2G)^T: over its columns
        u[r][0] = 2 * t[r][0];
        u[r][1] = t[r][0] + t[r][1] + t[r][2];
        u[r][2] = t[r][0] - t[r][1] + t[r][2];
        u[r][3] = 2 * t[r][2];
      }
      const int64_t q = oc / out.panel_width, j = oc % out.panel_width, k = ci / 2;
      for (int p = 0; p < kPositions; ++p) {
        auto* word = reinterpret_cast<int16_t*>(
            &out.data[static_cast<size_t>(((q * kPositions + p) * out.pairs + k) * out.panel_width + j)]);
        word[ci % 2] = static_cast<int16_t>(u[p / 4][p % 4]);
      }
    }
}

// V = B^T d B of the 4x4 patch whose top-left pixel is at `corner` (pixels cs bytes apart, rows
// in_row): kLanes16 channels from byte `at` of each pixel, into v[p * p_stride] for the 16 positions
// p. Row by row: d B over the row's 4 pixels, then B^T over the rows.
HWY_INLINE void TransformInput(const uint8_t* corner, int64_t cs, int64_t in_row, int64_t at, int16_t* HWY_RESTRICT v,
                               int64_t p_stride) {
  const D16 d16;
  const DU8h du8;
  V16 e[16];
  const uint8_t* row = corner + at;
  for (int r = 0; r < 4; ++r, row += in_row) {
    const V16 d0 = hn::PromoteTo(d16, hn::LoadU(du8, row)), d1 = hn::PromoteTo(d16, hn::LoadU(du8, row + cs)),
              d2 = hn::PromoteTo(d16, hn::LoadU(du8, row + 2 * cs)),
              d3 = hn::PromoteTo(d16, hn::LoadU(du8, row + 3 * cs));
    e[4 * r] = hn::Sub(d0, d2);
    e[4 * r + 1] = hn::Add(d1, d2);
    e[4 * r + 2] = hn::Sub(d2, d1);
    e[4 * r + 3] = hn::Sub(d1, d3);
  }
  for (int c = 0; c < 4; ++c) {
    int16_t* out = v + c * p_stride;
    hn::StoreU(hn::Sub(e[c], e[8 + c]), d16, out);
    hn::StoreU(hn::Add(e[4 + c], e[8 + c]), d16, out + 4 * p_stride);
    hn::StoreU(hn::Sub(e[8 + c], e[4 + c]), d16, out + 8 * p_stride);
    hn::StoreU(hn::Sub(e[4 + c], e[12 + c]), d16, out + 12 * p_stride);
  }
}

// M rows [MR tiles] x NV vectors of one position: sum over channel pairs k of rows[i][k] (a word
// of two int16 V) times b's U words, written to m[i * m_stride + j * kLanes].
template <int MR, int NV>
void GemmTile(const int32_t* const* HWY_RESTRICT rows, int64_t pairs, const int32_t* HWY_RESTRICT b, int64_t panel_width,
              int32_t* HWY_RESTRICT m, int64_t m_stride) {
  const DI di;
  VI acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = hn::Zero(di);
  for (int64_t k = 0; k < pairs; ++k, b += panel_width) {
    VI bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = hn::LoadU(di, b + j * kLanes);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const VI av = hn::Set(di, rows[i][k]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = MulPairs(acc[i][j], av, bv[j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) hn::StoreU(acc[i][j], di, m + i * m_stride + j * kLanes);
}

// Narrow layers (channel pairs a compile-time 2, 4 or 8; U within L1): one tile at a time, each
// position's sums folded into the tile's 4 outputs in registers as soon as they are done (A^T M A
// is linear in M), so no sums go through memory: for 16 channels that round trip costs as many
// memory operations as 3/8 of the products. The whole k loop is unrolled.
constexpr int64_t kFusedMaxU = 16 * 1024;
constexpr int64_t kFusedBlockBytes = 8 * 1024;

// y[o] +/-= m for the outputs o that position P feeds: y = A^T M A, A^T = [1 1 1 0; 0 1 -1 -1].
template <int P, int NV>
HWY_INLINE void FoldPosition(const VI (&m)[NV], VI (&y)[4][NV]) {
  constexpr int kA[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
  constexpr int r = P / 4, c = P % 4;
  constexpr int a[4] = {kA[0][r] * kA[0][c], kA[0][r] * kA[1][c], kA[1][r] * kA[0][c], kA[1][r] * kA[1][c]};
#pragma GCC unroll 4
  for (int o = 0; o < 4; ++o) {
    if (a[o] == 0) continue;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) y[o][j] = a[o] > 0 ? hn::Add(y[o][j], m[j]) : hn::Sub(y[o][j], m[j]);
  }
}

// Position P of one tile: its V words vw[P * p_words + k] by U words u[(P * Pairs + k) * NV * kLanes].
template <int P, int NV, int Pairs>
HWY_INLINE void FusedPosition(const int32_t* HWY_RESTRICT vw, int64_t p_words, const int32_t* HWY_RESTRICT u,
                              VI (&y)[4][NV]) {
  const DI di;
  const int32_t* HWY_RESTRICT a = vw + P * p_words;
  const int32_t* HWY_RESTRICT b = u + P * Pairs * NV * kLanes;
  VI m[NV];
#pragma GCC unroll 8
  for (int k = 0; k < Pairs; ++k) {
    const VI av = hn::Set(di, a[k]);
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const VI prod = MulPairs(hn::Zero(di), av, hn::LoadU(di, b + (k * NV + j) * kLanes));
      m[j] = k == 0 ? prod : hn::Add(m[j], prod);
    }
  }
  FoldPosition<P, NV>(m, y);
}

template <int NV, int Pairs, size_t... P>
HWY_INLINE void FusedTile(std::index_sequence<P...>, const int32_t* vw, int64_t p_words, const int32_t* u,
                          VI (&y)[4][NV]) {
  (FusedPosition<static_cast<int>(P), NV, Pairs>(vw, p_words, u, y), ...);
}

// A tile's place: image, top-left output pixel; advanced tile by tile without divisions.
struct TileCursor {
  int64_t img, oy, ox;
  void next(int64_t ho, int64_t wo) {
    if ((ox += 2) < wo) return;
    ox = 0;
    if ((oy += 2) < ho) return;
    oy = 0;
    ++img;
  }
};

// FusedPairs: 0 for the block GEMM, else the layer's channel pairs (the fused narrow path).
template <int NV, int FusedPairs>
void ConvWinogradNV(const ConvJob& job, int64_t tile_begin, int64_t tile_end) {
  constexpr int MR = RowsFor(NV);
  const DI di;
  const DF df;
  const WinogradWeights& ww = *job.winograd;
  const QTensorView& in = job.input;
  const int64_t ho = job.ho, wo = job.wo, tiles_x = (wo + 1) / 2, per_image = tiles_x * ((ho + 1) / 2);
  const int64_t cs = in.cs, vs = (cs + kLanes16 - 1) / kLanes16 * kLanes16;  // V's int16 per tile
  const int64_t pairs = ww.pairs, pw = ww.panel_width, mw = ww.panels * pw;  // M's words per tile
  // Tiles per block: the block GEMM's V and M within ~128 KiB (L2); the fused path's V within
  // ~8 KiB, so that V, U and the outputs' lines share L1.
  const int64_t block = FusedPairs > 0 ? std::max<int64_t>(1, kFusedBlockBytes / (kPositions * 2 * vs))
                                       : std::clamp<int64_t>(kBlockBytes / (kPositions * (2 * vs + 4 * mw)), kMaxRows, 64);
  const int64_t v_stride = (block + MR) * vs, m_stride = (block + MR) * mw;  // per position
  // V [p][tile][vs] int16 and M [p][tile][mw] int32, with room for a GEMM tile's rows past the block.
  std::vector<int16_t> v(static_cast<size_t>(kPositions * v_stride), 0);
  std::vector<int32_t> m(FusedPairs > 0 ? 0 : static_cast<size_t>(kPositions * m_stride));
  std::vector<uint8_t> zero_pixel(static_cast<size_t>(vs), static_cast<uint8_t>(in.zero_point));
  std::vector<uint8_t> copy(static_cast<size_t>(16 * kLanes16), 0);  // a patch's channels, copied
  const int64_t in_row = in.row_bytes();
  int64_t patch[16];  // byte offsets of a patch's pixels from its top-left one
  for (int i = 0; i < 16; ++i) patch[i] = (i / 4) * in_row + (i % 4) * cs;
  const EpilogueConsts consts = MakeEpilogueConsts(job);
  const int64_t ob = job.out_border, out_cs = channel_stride(job.cout), out_row = (wo + 2 * ob) * out_cs;
  const QTensorView* res = job.residual;
  const int64_t res_cs = res ? res->cs : 0, res_row = res ? res->row_bytes() : 0;
  const auto* u = ww.data.data();

  // Where a tile's outputs go: its first output and residual pixels, and how many rows and columns
  // of its 2x2 are real (an odd edge's phantom outputs are dropped).
  struct TileOut {
    uint8_t* u8;
    float* f32;
    const uint8_t* res;
    int64_t ny, nx;
  };
  auto tile_out = [&](const TileCursor& at) {
    TileOut o;
    o.ny = std::min<int64_t>(2, ho - at.oy);
    o.nx = std::min<int64_t>(2, wo - at.ox);
    o.u8 = job.out_u8 == nullptr
               ? nullptr
               : job.out_u8 + ((at.img * (ho + 2 * ob) + at.oy + ob) * (wo + 2 * ob) + at.ox + ob) * out_cs;
    o.f32 = job.out_f32 == nullptr ? nullptr : job.out_f32 + ((at.img * ho + at.oy) * wo + at.ox) * job.cout;
    o.res = res == nullptr ? nullptr : res->at(at.img, at.oy, at.ox);
    return o;
  };
  // The epilogue of channels [c0, c0 + kLanes) of a tile from 4 times its outputs' sums y (0, 0),
  // (0, 1), (1, 0), (1, 1). A whole tile of whole vectors of codes takes the four pixels' float
  // operations side by side (Epilogue's, in its order), so they overlap; the rest takes Epilogue.
  const DU8 du8;
  auto emit = [&](const TileOut& o, int64_t c0, const VI(&y)[4]) {
    const VI corr = hn::LoadU(di, job.correction + c0);
    const VF mult = hn::LoadU(df, job.multiplier + c0), bias = hn::LoadU(df, job.bias + c0);
    const int64_t px[4] = {0, out_cs, out_row, out_row + out_cs};  // the 4 pixels' offsets
    if (o.u8 != nullptr && o.ny == 2 && o.nx == 2 && c0 + kLanes <= out_cs && (res == nullptr || c0 + kLanes <= res_cs)) {
      VF f[4];
      for (int d = 0; d < 4; ++d) f[d] = ScaledSums(consts, hn::ShiftRight<2>(y[d]), corr, mult, bias);
      if (res != nullptr) {
        const uint8_t* r[4] = {o.res, o.res + res_cs, o.res + res_row, o.res + res_row + res_cs};
        for (int d = 0; d < 4; ++d) f[d] = AddResidual(consts, f[d], hn::PromoteTo(di, hn::LoadU(du8, r[d] + c0)));
      }
      for (int d = 0; d < 4; ++d) hn::StoreU(Codes(consts, f[d]), du8, o.u8 + px[d] + c0);
      return;
    }
    for (int64_t dy = 0; dy < o.ny; ++dy)
      for (int64_t dx = 0; dx < o.nx; ++dx)
        Epilogue(consts, o.u8 == nullptr ? nullptr : o.u8 + dy * out_row + dx * out_cs,
                 o.f32 == nullptr ? nullptr : o.f32 + (dy * wo + dx) * job.cout,
                 o.res == nullptr ? nullptr : o.res + dy * res_row + dx * res_cs, 0, c0, hn::ShiftRight<2>(y[2 * dy + dx]),
                 corr, mult, bias);
  };

  const TileCursor first{tile_begin / per_image, 2 * ((tile_begin % per_image) / tiles_x), 2 * (tile_begin % tiles_x)};
  TileCursor in_at = first, out_at = first;
  for (int64_t b0 = tile_begin; b0 < tile_end; b0 += block) {
    const int64_t nt = std::min(block, tile_end - b0);
    for (int64_t t = 0; t < nt; ++t, in_at.next(ho, wo)) {
      const int64_t iy0 = in_at.oy - job.pad, ix0 = in_at.ox - job.pad;
      const uint8_t* corner = in.data + in.offset(in_at.img, iy0, ix0);
      int16_t* vt = v.data() + t * vs;
      // A patch reaching past the input's frame (odd output sizes) is copied with zero points there:
      // only the tile's phantom outputs depend on them. So are the channels past the last whole
      // vector, so that no read runs past a pixel.
      const bool framed = iy0 + 4 <= in.h + in.border && ix0 + 4 <= in.w + in.border;
      int64_t c0 = 0;
      if (framed)
        for (; c0 + kLanes16 <= cs; c0 += kLanes16) TransformInput(corner, cs, in_row, c0, vt + c0, v_stride);
      for (; c0 < cs; c0 += kLanes16) {
        const int64_t n = std::min(kLanes16, cs - c0);
        for (int i = 0; i < 16; ++i) {
          const int64_t iy = iy0 + i / 4, ix = ix0 + i % 4;
          const bool inside = iy < in.h + in.border && ix < in.w + in.border;
          std::memcpy(copy.data() + i * kLanes16, inside ? corner + patch[i] + c0 : zero_pixel.data(), static_cast<size_t>(n));
        }
        TransformInput(copy.data(), kLanes16, 4 * kLanes16, 0, vt + c0, v_stride);
      }
    }
    if constexpr (FusedPairs > 0) {  // per tile and panel: the 4 outputs' sums in registers
      for (int64_t t = 0; t < nt; ++t, out_at.next(ho, wo)) {
        const auto* vw = reinterpret_cast<const int32_t*>(v.data() + t * vs);
        const TileOut dst = tile_out(out_at);
        for (int64_t q = 0; q < ww.panels; ++q) {
          VI y[4][NV];
#pragma GCC unroll 4
          for (int o = 0; o < 4; ++o)
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) y[o][j] = hn::Zero(di);
          FusedTile<NV, FusedPairs>(std::make_index_sequence<kPositions>(), vw, v_stride / 2,
                                    u + q * kPositions * FusedPairs * pw, y);
#pragma GCC unroll 4
          for (int j = 0; j < NV; ++j) {
            const int64_t c0 = q * pw + j * kLanes;
            if (c0 >= job.cout) break;
            emit(dst, c0, {y[0][j], y[1][j], y[2][j], y[3][j]});
          }
        }
      }
      continue;
    }
    // Per position, the block's tiles by U, panel by panel (V's rows stay in L1 across panels).
    for (int p = 0; p < kPositions; ++p) {
      const int16_t* vp = v.data() + p * v_stride;
      int32_t* mp = m.data() + p * m_stride;
      for (int64_t t0 = 0; t0 < nt; t0 += MR) {
        const int32_t* rows[MR];
        for (int i = 0; i < MR; ++i)  // rows past the block repeat its last (computed, never read)
          rows[i] = reinterpret_cast<const int32_t*>(vp + std::min<int64_t>(t0 + i, nt - 1) * vs);
        for (int64_t q = 0; q < ww.panels; ++q)
          GemmTile<MR, NV>(rows, pairs, u + (q * kPositions + p) * pairs * pw, pw, mp + t0 * mw + q * pw, mw);
      }
    }
    // Per tile and vector: the output transform A^T M A.
    for (int64_t t = 0; t < nt; ++t, out_at.next(ho, wo)) {
      const int32_t* mt = m.data() + t * mw;
      const TileOut dst = tile_out(out_at);
      for (int64_t c0 = 0; c0 < job.cout; c0 += kLanes) {
        VI s[8];
        for (int c = 0; c < 4; ++c) {  // A^T M: over the rows
          const int32_t* at = mt + c0 + c * m_stride;
          const VI m0 = hn::LoadU(di, at), m1 = hn::LoadU(di, at + 4 * m_stride),
                   m2 = hn::LoadU(di, at + 8 * m_stride), m3 = hn::LoadU(di, at + 12 * m_stride);
          s[c] = hn::Add(hn::Add(m0, m1), m2);
          s[4 + c] = hn::Sub(hn::Sub(m1, m2), m3);
        }
        // (.) A: over the columns
        emit(dst, c0,
             {hn::Add(hn::Add(s[0], s[1]), s[2]), hn::Sub(hn::Sub(s[1], s[2]), s[3]), hn::Add(hn::Add(s[4], s[5]), s[6]),
              hn::Sub(hn::Sub(s[5], s[6]), s[7])});
      }
    }
  }
}

template <int NV>
void ConvWinogradPanels(const ConvJob& job, int64_t tile_begin, int64_t tile_end) {
  const WinogradWeights& ww = *job.winograd;
  if (static_cast<int64_t>(ww.data.size() * sizeof(int32_t)) <= kFusedMaxU) {
    if (ww.pairs == 8) return ConvWinogradNV<NV, 8>(job, tile_begin, tile_end);
    if (ww.pairs == 4) return ConvWinogradNV<NV, 4>(job, tile_begin, tile_end);
    if (ww.pairs == 2) return ConvWinogradNV<NV, 2>(job, tile_begin, tile_end);
  }
  ConvWinogradNV<NV, 0>(job, tile_begin, tile_end);
}

void ConvWinograd(const ConvJob& job, int64_t tile_begin, int64_t tile_end) {
  const int64_t nv = job.winograd->panel_width / kLanes;
  if (nv == 1) return ConvWinogradPanels<1>(job, tile_begin, tile_end);
  if (nv == 2) return ConvWinogradPanels<2>(job, tile_begin, tile_end);
  if constexpr (kMaxVectors >= 4) {
    if (nv == 3) return ConvWinogradPanels<3>(job, tile_begin, tile_end);
    if (nv == 4) return ConvWinogradPanels<4>(job, tile_begin, tile_end);
  }
}

}  // namespace

void FillWinogradKernels(DeployKernels* table) {
  if (!kHasWinograd) return;
  table->pack_winograd = &PackWinograd;
  table->conv_winograd = &ConvWinograd;
}

}  // namespace sl::deploy::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::deploy {
HWY_EXPORT(FillWinogradKernels);
void fill_winograd_kernels(DeployKernels& k) { HWY_DYNAMIC_DISPATCH(FillWinogradKernels)(&k); }
}  // namespace sl::deploy
#endif
