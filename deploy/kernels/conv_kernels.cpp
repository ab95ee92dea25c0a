// The integer convolution (implicit GEMM) of the deploy runtime, written once against Highway and
// compiled per target (foreach_target). A tile keeps rows x nv vectors of int32 sums in registers;
// one pointer per output pixel points at its window in the input (read in place: the input's frame
// of zero points covers the padding), and for each group of 4 window bytes each row broadcasts one
// 32-bit word of activations and multiplies it into nv vectors of packed weights. Tile sizes come
// from the target's register count; nothing is tuned to the machine it was written on.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "deploy/kernels/conv_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "deploy/kernels/epilogue-inl.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "deploy/kernels/kernels.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
// Highway 1.0.3's AVX3_DL target string names AVX-VNNI (the VEX form), not AVX512-VNNI; its CPU
// check for the target requires AVX512-VNNI, so the EVEX vpdpbusd is safe to enable here.
#pragma GCC target("avx512vnni")
#endif
namespace sl::deploy::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

// Row pointers live in general registers (16 on x86-64): 8 rows leave room for the loop's own.
constexpr int kMaxRows = 8;
// rows x nv accumulators + nv weight vectors + the broadcast word + two temporaries.
constexpr int RowsFor(int nv) { return std::min(kMaxRows, (kRegisters - nv - 3) / nv); }

// The pmaddubsw targets: int16 pair sums of 4 products, added in int16 over several groups
// (PackedWeights::int16_depth), then widened once with pmaddwd.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4
constexpr bool kInt16Sums = true;
#else
constexpr bool kInt16Sums = false;
#endif

[[maybe_unused]] HWY_INLINE VI PairSums(VI a, VI b) {
#if HWY_TARGET == HWY_AVX3
  return VI{_mm512_maddubs_epi16(a.raw, b.raw)};
#elif HWY_TARGET == HWY_AVX2
  return VI{_mm256_maddubs_epi16(a.raw, b.raw)};
#elif HWY_TARGET == HWY_SSE4
  return VI{_mm_maddubs_epi16(a.raw, b.raw)};
#else
  (void)b;
  return a;  // unused: kInt16Sums is false
#endif
}

[[maybe_unused]] HWY_INLINE VI AddInt16(VI x, VI y) {
#if HWY_TARGET == HWY_AVX3
  return VI{_mm512_add_epi16(x.raw, y.raw)};
#elif HWY_TARGET == HWY_AVX2
  return VI{_mm256_add_epi16(x.raw, y.raw)};
#elif HWY_TARGET == HWY_SSE4
  return VI{_mm_add_epi16(x.raw, y.raw)};
#else
  (void)y;
  return x;
#endif
}

// acc + Factor * (the int16 pair sums added pairwise, as int32): one pmaddwd by Factor. Factor 2
// widens the high plane of split weights (PackedWeights::split).
template <int Factor = 1>
HWY_INLINE VI Widen(VI acc, VI sums16) {
#if HWY_TARGET == HWY_AVX3
  return hn::Add(acc, VI{_mm512_madd_epi16(sums16.raw, _mm512_set1_epi16(Factor))});
#elif HWY_TARGET == HWY_AVX2
  return hn::Add(acc, VI{_mm256_madd_epi16(sums16.raw, _mm256_set1_epi16(Factor))});
#elif HWY_TARGET == HWY_SSE4
  return hn::Add(acc, VI{_mm_madd_epi16(sums16.raw, _mm_set1_epi16(Factor))});
#else
  (void)sums16;
  return acc;
#endif
}

// acc + in each 32-bit lane the sum of the 4 products of a's uint8 and b's int8 bytes. On the pmaddubsw
// targets exact for |b| <= 64 (kMaxNarrowWeight): the int16 pair sums cannot saturate.
HWY_INLINE VI Dot(VI acc, VI a, VI b) {
#if HWY_TARGET == HWY_AVX3_DL
  return VI{_mm512_dpbusd_epi32(acc.raw, a.raw, b.raw)};
#elif HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4
  return Widen(acc, PairSums(a, b));
#else
  // Byte t of a, zero-extended, times byte t of b, sign-extended, for t = 0..3.
  const DI di;
  const VI mask = hn::Set(di, 0xFF);
  VI sum = acc;
  sum = hn::Add(sum, hn::Mul(hn::And(a, mask), hn::ShiftRight<24>(hn::ShiftLeft<24>(b))));
  sum = hn::Add(sum, hn::Mul(hn::And(hn::ShiftRight<8>(a), mask), hn::ShiftRight<24>(hn::ShiftLeft<16>(b))));
  sum = hn::Add(sum, hn::Mul(hn::And(hn::ShiftRight<16>(a), mask), hn::ShiftRight<24>(hn::ShiftLeft<8>(b))));
  sum = hn::Add(sum, hn::Mul(hn::And(hn::ShiftRight<24>(a), mask), hn::ShiftRight<24>(b)));
  return sum;
#endif
}

// The largest depth in {1, 2, 4} at which no int16 pair-sum lane can overflow (see
// PackedWeights::int16_depth; 8 measured slower than 4: the unrolled rows outgrow the registers).
// w: [cout][groups][4] in packing order, groups a multiple of 4.
int64_t Int16Depth(const std::vector<int8_t>& w, int64_t cout, int64_t groups) {
  if (!kInt16Sums) return 1;
  for (int64_t depth = 4; depth > 1; depth /= 2) {
    bool fits = true;
    for (int64_t oc = 0; oc < cout && fits; ++oc)
      for (int64_t g0 = 0; g0 < groups && fits; g0 += depth)
        for (int64_t half = 0; half < 2 && fits; ++half) {
          int64_t sum = 0;
          for (int64_t g = g0; g < g0 + depth && g < groups; ++g)
            for (int64_t t = 2 * half; t < 2 * half + 2; ++t) sum += std::abs(w[static_cast<size_t>((oc * groups + g) * 4 + t)]);
          fits = sum <= 128;
        }
    if (fits) return depth;
  }
  return 1;
}

// A layer of 3 vectors of output channels or less is one panel, also on the 16-register targets
// (3 vectors x 3 rows there): two panels of 2 vectors would spend a third of the products on zero
// channels (mnist-conv's 20 channels: 32 lanes for 20 instead of 24).
int64_t DirectPanelWidth(int64_t cout) {
  const int64_t vectors = (cout + kLanes - 1) / kLanes;
  return (vectors == 3 ? 3 : std::min<int64_t>(kMaxVectors, vectors)) * kLanes;
}

void PackWeights(const int8_t* w, int64_t cout, int64_t kh, int64_t kw, int64_t cin, PackedWeights& out) {
  const int64_t cs = channel_stride(cin), rg = row_groups(kw, cs), groups = kh * rg;
  // The weights in packing order, groups padded with zeros to a multiple of the largest depth.
  const int64_t padded = (groups + 3) / 4 * 4;
  std::vector<int8_t> k(static_cast<size_t>(cout * padded * 4), 0);
  for (int64_t oc = 0; oc < cout; ++oc)
    for (int64_t ky = 0; ky < kh; ++ky)
      for (int64_t kx = 0; kx < kw; ++kx)
        for (int64_t ci = 0; ci < cin; ++ci) {
          const int64_t byte = kx * cs + ci, g = ky * rg + byte / 4;
          k[static_cast<size_t>((oc * padded + g) * 4 + byte % 4)] = w[((oc * kh + ky) * kw + kx) * cin + ci];
        }
  out.cout = cout;
  out.kh = kh;
  out.kw = kw;
  out.cin = cin;
  out.row_groups = rg;
  const bool wide = std::any_of(w, w + cout * kh * kw * cin, [](int8_t v) { return std::abs(v) > kMaxNarrowWeight; });
  out.split = kInt16Sums && wide;
  out.int16_depth = out.split ? 1 : Int16Depth(k, cout, padded);
  out.groups = (groups + out.int16_depth - 1) / out.int16_depth * out.int16_depth;
  out.panel_width = DirectPanelWidth(cout);
  out.panels = (cout + out.panel_width - 1) / out.panel_width;
  const int64_t plane = out.groups * out.panel_width * 4, planes = out.split ? 2 : 1;
  out.data.assign(static_cast<size_t>(out.panels * planes * plane), 0);
  for (int64_t oc = 0; oc < cout; ++oc) {
    const int64_t p = oc / out.panel_width, j = oc % out.panel_width;
    for (int64_t g = 0; g < out.groups; ++g)
      for (int64_t t = 0; t < 4; ++t) {
        const int8_t v = k[static_cast<size_t>((oc * padded + g) * 4 + t)];
        const auto at = static_cast<size_t>(p * planes * plane + (g * out.panel_width + j) * 4 + t);
        if (!out.split) {
          out.data[at] = v;
          continue;
        }
        out.data[at] = static_cast<int8_t>(v >> 1);  // floor(v / 2): 2 * (v >> 1) + (v & 1) == v
        out.data[at + static_cast<size_t>(plane)] = static_cast<int8_t>(v & 1);
      }
  }
}

// The sums of a tile: MR rows x NV vectors, over every k group of the window (offs[g]: the group's
// byte offset from a row's window start: kernel row ky at ky times the input's row step, then its
// kw * cs contiguous bytes), so one loop covers the window. Written to sums[(i * NV + j) * kLanes].
template <int MR, int NV>
void AccumulateTile(const uint8_t* const* HWY_RESTRICT rows, const int32_t* HWY_RESTRICT offs, int64_t groups,
                    const int32_t* HWY_RESTRICT b, int64_t panel_width, int32_t* HWY_RESTRICT sums) {
  const DI di;
  VI acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = hn::Zero(di);
  for (int64_t g = 0; g < groups; ++g, b += panel_width) {
    const int64_t off = offs[g];
    VI bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = hn::LoadU(di, b + j * kLanes);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      int32_t word;
      std::memcpy(&word, rows[i] + off, 4);
      const VI av = hn::Set(di, word);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = Dot(acc[i][j], av, bv[j]);
    }
  }
  // Out of registers with constant indices only: an array indexed by run-time row and vector would
  // keep the accumulators in memory through the k loop.
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) hn::StoreU(acc[i][j], di, sums + (i * NV + j) * kLanes);
}

// The same sums on the pmaddubsw targets with int16 sums over `depth` groups (groups is a
// multiple of it): per row, the depth groups' pair sums of each vector added in int16, widened once.
// Weights are read from memory (L1) as pmaddubsw operands; registers hold the accumulators.
template <int MR, int NV, int Depth>
void AccumulateTileInt16(const uint8_t* const* HWY_RESTRICT rows, const int32_t* HWY_RESTRICT offs, int64_t groups,
                         const int32_t* HWY_RESTRICT b, int64_t panel_width, int32_t* HWY_RESTRICT sums) {
  const DI di;
  VI acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = hn::Zero(di);
  for (int64_t g = 0; g < groups; g += Depth, b += Depth * panel_width) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      VI t[NV];
#pragma GCC unroll 4
      for (int d = 0; d < Depth; ++d) {
        int32_t word;
        std::memcpy(&word, rows[i] + offs[g + d], 4);
        const VI av = hn::Set(di, word);
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
          const VI m = PairSums(av, hn::LoadU(di, b + d * panel_width + j * kLanes));
          t[j] = d == 0 ? m : AddInt16(t[j], m);
        }
      }
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = Widen(acc[i][j], t[j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) hn::StoreU(acc[i][j], di, sums + (i * NV + j) * kLanes);
}

// The same sums of split weights on the pmaddubsw targets (PackedWeights::split): per group and
// vector, the high plane's pair sums widened times 2 and the low plane's (0 or 1) times 1.
template <int MR, int NV>
void AccumulateTileSplit(const uint8_t* const* HWY_RESTRICT rows, const int32_t* HWY_RESTRICT offs, int64_t groups,
                         const int32_t* HWY_RESTRICT b, int64_t panel_width, int32_t* HWY_RESTRICT sums) {
  const DI di;
  const int32_t* HWY_RESTRICT low = b + groups * panel_width;
  VI acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = hn::Zero(di);
  for (int64_t g = 0; g < groups; ++g, b += panel_width, low += panel_width) {
    const int64_t off = offs[g];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      int32_t word;
      std::memcpy(&word, rows[i] + off, 4);
      const VI av = hn::Set(di, word);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        acc[i][j] = Widen<2>(acc[i][j], PairSums(av, hn::LoadU(di, b + j * kLanes)));
        acc[i][j] = Widen(acc[i][j], PairSums(av, hn::LoadU(di, low + j * kLanes)));
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) hn::StoreU(acc[i][j], di, sums + (i * NV + j) * kLanes);
}

template <int MR, int NV>
using AccumulateFn = void (*)(const uint8_t* const*, const int32_t*, int64_t, const int32_t*, int64_t, int32_t*);

template <int MR, int NV>
AccumulateFn<MR, NV> AccumulateFor(int64_t depth, bool split) {
  if constexpr (kInt16Sums) {
    if (split) return &AccumulateTileSplit<MR, NV>;
    if (depth == 2) return &AccumulateTileInt16<MR, NV, 2>;
    if (depth == 4) return &AccumulateTileInt16<MR, NV, 4>;
  }
  return &AccumulateTile<MR, NV>;
}

struct RowPos {
  int64_t n, oy, ox;
};

template <int NV>
void ConvRowsNV(const ConvJob& job, int64_t row_begin, int64_t row_end) {
  constexpr int MR = RowsFor(NV);
  const DI di;
  const DF df;
  const DU8 du8;
  const PackedWeights& pw = *job.weights;
  const QTensorView& in = job.input;
  const int64_t per_image = job.ho * job.wo;
  const bool shift = job.shift != nullptr;
  // Windows are read in place with the input's row step (the shift's, one row, from a copy).
  const int64_t row_step = in.row_bytes();
  const int64_t kernel_rows = shift ? 1 : job.kh, groups = pw.groups, rg = pw.row_groups;
  std::vector<int32_t> offs(static_cast<size_t>(groups), 0);  // padding groups: weights 0, any bytes
  for (int64_t ky = 0; ky < kernel_rows; ++ky)
    for (int64_t g = 0; g < rg; ++g) offs[static_cast<size_t>(ky * rg + g)] = static_cast<int32_t>(ky * row_step + 4 * g);
  const AccumulateFn<MR, NV> accumulate = AccumulateFor<MR, NV>(pw.int16_depth, pw.split);
  const int64_t panel_words = pw.groups * pw.panel_width * (pw.split ? 2 : 1);
  const int64_t window = rg * 4;  // the shift's copy: its channels, then zero points up to whole groups
  std::vector<uint8_t> wbuf(shift ? static_cast<size_t>(MR * window) : 0, static_cast<uint8_t>(in.zero_point));
  HWY_ALIGN int32_t sums[MR * NV * kLanes];
  const auto* b_all = reinterpret_cast<const int32_t*>(pw.data.data());
  const bool single_panel = pw.panels == 1;
  const EpilogueConsts consts = MakeEpilogueConsts(job);
  const QTensorView* residual = job.residual;
  // Later rows of a tile are next in memory for the output and a stride-1 residual alike only when
  // neither has a frame.
  const bool frameless = job.out_border == 0 && (residual == nullptr || residual->border == 0);
  const int64_t ob = job.out_border, out_cs = channel_stride(job.cout);
  // The next row's position and its window, output and residual pixels: advanced by additions
  // along an output row, recomputed where a row (and the frame) ends.
  struct Cursor {
    RowPos pos;
    const uint8_t* in;
    uint8_t* out;
    const uint8_t* res;
  };
  const int64_t in_step = job.stride * in.cs, res_step = residual ? residual->cs : 0;
  auto locate = [&](Cursor& c) {
    const RowPos& at = c.pos;
    c.in = in.at(at.n, at.oy * job.stride - job.pad, at.ox * job.stride - job.pad);
    const int64_t out_pixel = (at.n * (job.ho + 2 * ob) + at.oy + ob) * (job.wo + 2 * ob) + at.ox + ob;
    c.out = job.out_u8 == nullptr ? nullptr : job.out_u8 + out_pixel * out_cs;
    c.res = residual == nullptr ? nullptr : residual->at(at.n, at.oy, at.ox);
  };
  Cursor next{{row_begin / per_image, (row_begin % per_image) / job.wo, row_begin % job.wo}, nullptr, nullptr, nullptr};
  locate(next);
  for (int64_t row0 = row_begin; row0 < row_end; row0 += MR) {
    const int64_t rows = std::min<int64_t>(MR, row_end - row0);
    Cursor row[MR];
    for (int i = 0; i < MR; ++i) {
      if (i >= rows) {  // rows past the end repeat the last (computed, never stored)
        row[i] = row[rows - 1];
        continue;
      }
      row[i] = next;
      if (++next.pos.ox < job.wo) {
        next.in += in_step;
        if (next.out) next.out += out_cs;
        if (next.res) next.res += res_step;
        continue;
      }
      next.pos.ox = 0;
      if (++next.pos.oy == job.ho) {
        next.pos.oy = 0;
        ++next.pos.n;
      }
      if (row0 + i + 1 < row_end) locate(next);
    }
    // A window is read in place (the frame covers the padding), or for the shift from a copy of the
    // cs bytes each read at its channel's own offset.
    const uint8_t* base[MR];
    for (int i = 0; i < MR; ++i) {
      if (!shift) {
        base[i] = row[i].in;
        continue;
      }
      uint8_t* dst = wbuf.data() + i * window;
      const RowPos& at = row[i].pos;
      const int64_t y0 = at.oy * job.stride, x0 = at.ox * job.stride;
      for (int64_t ci = 0; ci < in.c; ++ci) {
        const int64_t iy = y0 + job.shift[2 * ci], ix = x0 + job.shift[2 * ci + 1];
        dst[ci] = (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) ? static_cast<uint8_t>(in.zero_point)
                                                                  : in.at(at.n, iy, ix)[ci];
      }
      base[i] = dst;
    }
    for (int64_t p = 0; p < pw.panels; ++p) {
      accumulate(base, offs.data(), groups, b_all + p * panel_words, pw.panel_width, sums);
      VI corr[NV];
      VF mult[NV], bias[NV];
      for (int j = 0; j < NV; ++j) {
        const int64_t c0 = p * pw.panel_width + j * kLanes;
        corr[j] = hn::LoadU(di, job.correction + c0);
        mult[j] = hn::LoadU(df, job.multiplier + c0);
        bias[j] = hn::LoadU(df, job.bias + c0);
      }
      // Whole vectors of codes (every vector of the panel within the output's and the residual's
      // channels): the tile's rows side by side, Epilogue's float operations in its order, so the
      // rows' chains overlap. Rows past the end are computed from repeated cursors, never stored.
      const int64_t panel_end = (p + 1) * pw.panel_width;
      if (job.out_u8 != nullptr && panel_end <= out_cs && (residual == nullptr || panel_end <= residual->cs)) {
        VF f[MR][NV];
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
          for (int j = 0; j < NV; ++j)
            f[i][j] = ScaledSums(consts, hn::LoadU(di, sums + (i * NV + j) * kLanes), corr[j], mult[j], bias[j]);
        if (residual != nullptr) {
#pragma GCC unroll 8
          for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j)
              f[i][j] = AddResidual(consts, f[i][j],
                                    hn::PromoteTo(di, hn::LoadU(du8, row[i].res + p * pw.panel_width + j * kLanes)));
        }
        for (int i = 0; i < rows; ++i)
#pragma GCC unroll 4
          for (int j = 0; j < NV; ++j)
            hn::StoreU(Codes(consts, f[i][j]), du8, row[i].out + p * pw.panel_width + j * kLanes);
        continue;
      }
      // Rows in order: with one panel, a vector running past a row's channels lands in later rows of
      // the tile, written after it (with several, the next row's first panel is already written).
      // Without a frame, rows are contiguous across image rows and images; with one, within a row.
      for (int i = 0; i < rows; ++i) {
        const int64_t later = !single_panel ? 0
                              : frameless   ? rows - 1 - i
                                            : std::min<int64_t>(rows - 1 - i, job.wo - 1 - row[i].pos.ox);
        float* out_f32 = job.out_f32 == nullptr ? nullptr : job.out_f32 + (row0 + i) * job.cout;
        for (int j = 0; j < NV; ++j) {
          const int64_t c0 = p * pw.panel_width + j * kLanes;
          if (c0 >= job.cout) break;
          Epilogue(consts, row[i].out, out_f32, row[i].res, later, c0, hn::LoadU(di, sums + (i * NV + j) * kLanes),
                   corr[j], mult[j], bias[j]);
        }
      }
    }
  }
}

void ConvRows(const ConvJob& job, int64_t row_begin, int64_t row_end) {
  const int64_t nv = job.weights->panel_width / kLanes;
  if (nv == 1) return ConvRowsNV<1>(job, row_begin, row_end);
  if (nv == 2) return ConvRowsNV<2>(job, row_begin, row_end);
  if (nv == 3) return ConvRowsNV<3>(job, row_begin, row_end);
  if constexpr (kMaxVectors >= 4) {
    if (nv == 4) return ConvRowsNV<4>(job, row_begin, row_end);
  }
}

}  // namespace

void FillConvKernels(DeployKernels* table) {
  DeployKernels& k = *table;
  k.lanes = static_cast<int>(kLanes);
  k.tile_rows = RowsFor(1);
  k.pack_weights = &PackWeights;
  k.conv_rows = &ConvRows;
}

}  // namespace sl::deploy::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::deploy {
HWY_EXPORT(FillConvKernels);
void fill_conv_kernels(DeployKernels& k) { HWY_DYNAMIC_DISPATCH(FillConvKernels)(&k); }
}  // namespace sl::deploy
#endif
