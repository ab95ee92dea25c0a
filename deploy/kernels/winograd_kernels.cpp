// Integer Winograd F(2x2, 3x3) for the deploy runtime's 3x3 stride-1 convs (see WinogradWeights in
// kernels.h), compiled per target with Highway. Without VNNI a group of 4 uint8 x int8 products
// costs pmaddubsw + pmaddwd + paddd; here 2 int16 x int16 products cost pmaddwd + paddd, and a 2x2
// tile needs 16 per channel instead of 36, so the multiplier port does 2.25x fewer instructions per
// output. A block of tiles is transformed at once: V (int16, per position p, tile, channel), then per
// position one GEMM of the block's tiles by U into int32 sums M, then per tile the output transform
// and the direct GEMM's epilogue. The sums are exact integers, so the output is the direct GEMM's
// bit for bit.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "deploy/kernels/winograd_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "deploy/kernels/epilogue-inl.h"

#include <algorithm>
#include <cstring>
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
// Tiles per block: V and M of a block within ~128 KiB (L2), at least a GEMM tile, at most 64.
constexpr int64_t kBlockBytes = 128 * 1024;

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

template <int NV>
void ConvWinogradNV(const ConvJob& job, int64_t tile_begin, int64_t tile_end) {
  constexpr int MR = RowsFor(NV);
  const DI di;
  const DF df;
  const WinogradWeights& ww = *job.winograd;
  const QTensorView& in = job.input;
  const int64_t ho = job.ho, wo = job.wo, tiles_x = (wo + 1) / 2, per_image = tiles_x * ((ho + 1) / 2);
  const int64_t cs = in.cs, vs = (cs + kLanes16 - 1) / kLanes16 * kLanes16;  // V's int16 per tile
  const int64_t pairs = ww.pairs, pw = ww.panel_width, mw = ww.panels * pw;  // M's words per tile
  const int64_t block = std::clamp<int64_t>(kBlockBytes / (kPositions * (2 * vs + 4 * mw)), kMaxRows, 64);
  const int64_t v_stride = (block + MR) * vs, m_stride = (block + MR) * mw;  // per position
  // V [p][tile][vs] int16 and M [p][tile][mw] int32, with room for a GEMM tile's rows past the block.
  std::vector<int16_t> v(static_cast<size_t>(kPositions * v_stride), 0);
  std::vector<int32_t> m(static_cast<size_t>(kPositions * m_stride));
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
    // Per tile and vector: the output transform A^T M A (4 times the sums), then the epilogue.
    for (int64_t t = 0; t < nt; ++t, out_at.next(ho, wo)) {
      const int64_t ny = std::min<int64_t>(2, ho - out_at.oy), nx = std::min<int64_t>(2, wo - out_at.ox);
      uint8_t* out_u8 = job.out_u8 == nullptr ? nullptr
                                              : job.out_u8 + ((out_at.img * (ho + 2 * ob) + out_at.oy + ob) * (wo + 2 * ob) +
                                                              out_at.ox + ob) * out_cs;
      float* out_f32 =
          job.out_f32 == nullptr ? nullptr : job.out_f32 + ((out_at.img * ho + out_at.oy) * wo + out_at.ox) * job.cout;
      const uint8_t* res_px = res == nullptr ? nullptr : res->at(out_at.img, out_at.oy, out_at.ox);
      const int32_t* mt = m.data() + t * mw;
      for (int64_t c0 = 0; c0 < job.cout; c0 += kLanes) {
        VI s[8];
        for (int c = 0; c < 4; ++c) {  // A^T M: over the rows
          const int32_t* at = mt + c0 + c * m_stride;
          const VI m0 = hn::LoadU(di, at), m1 = hn::LoadU(di, at + 4 * m_stride),
                   m2 = hn::LoadU(di, at + 8 * m_stride), m3 = hn::LoadU(di, at + 12 * m_stride);
          s[c] = hn::Add(hn::Add(m0, m1), m2);
          s[4 + c] = hn::Sub(hn::Sub(m1, m2), m3);
        }
        const VI corr = hn::LoadU(di, job.correction + c0);
        const VF mult = hn::LoadU(df, job.multiplier + c0), bias = hn::LoadU(df, job.bias + c0);
        for (int64_t dy = 0; dy < ny; ++dy) {
          const VI* sr = s + 4 * dy;  // (.) A: over the columns
          const VI y[2] = {hn::ShiftRight<2>(hn::Add(hn::Add(sr[0], sr[1]), sr[2])),
                           hn::ShiftRight<2>(hn::Sub(hn::Sub(sr[1], sr[2]), sr[3]))};
          for (int64_t dx = 0; dx < nx; ++dx)
            Epilogue(consts, out_u8 == nullptr ? nullptr : out_u8 + dy * out_row + dx * out_cs,
                     out_f32 == nullptr ? nullptr : out_f32 + (dy * wo + dx) * job.cout,
                     res_px == nullptr ? nullptr : res_px + dy * res_row + dx * res_cs, 0, c0, y[dx], corr, mult, bias);
        }
      }
    }
  }
}

void ConvWinograd(const ConvJob& job, int64_t tile_begin, int64_t tile_end) {
  const int64_t nv = job.winograd->panel_width / kLanes;
  if (nv == 1) return ConvWinogradNV<1>(job, tile_begin, tile_end);
  if (nv == 2) return ConvWinogradNV<2>(job, tile_begin, tile_end);
  if constexpr (kMaxVectors >= 4) {
    if (nv == 3) return ConvWinogradNV<3>(job, tile_begin, tile_end);
    if (nv == 4) return ConvWinogradNV<4>(job, tile_begin, tile_end);
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
