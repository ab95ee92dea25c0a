// The integer convolution (implicit GEMM) of the deploy runtime, written once against Highway and
// compiled per target (foreach_target). A tile keeps rows x nv vectors of int32 sums in registers;
// for each (ky, kx) it points one pointer per output pixel at the input pixel it reads (or at a row
// of zero points outside the image), then each 4-channel group broadcasts one 32-bit word of
// activations per row and multiplies it into nv vectors of packed weights. Tile sizes come from the
// target's register count; nothing is tuned to the machine it was written on.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "deploy/kernels/conv_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

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

using DI = hn::ScalableTag<int32_t>;
using VI = hn::Vec<DI>;
using DF = hn::Rebind<float, DI>;
using VF = hn::Vec<DF>;
using DU8 = hn::Rebind<uint8_t, DI>;
constexpr int64_t kLanes = static_cast<int64_t>(hn::MaxLanes(DI()));

// AVX-512 and AArch64 have 32 vector registers; SSE4, AVX2 and the emulated scalar target 16.
constexpr int kRegisters = ((HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || HWY_ARCH_ARM_A64) ? 32 : 16;
constexpr int kMaxVectors = kRegisters == 32 ? 4 : 2;
// Row pointers live in general registers (16 on x86-64): 8 rows leave room for the loop's own.
constexpr int kMaxRows = 8;
// rows x nv accumulators + nv weight vectors + the broadcast word + two temporaries.
constexpr int RowsFor(int nv) { return std::min(kMaxRows, (kRegisters - nv - 3) / nv); }

// acc + in each 32-bit lane the sum of the 4 products of a's uint8 and b's int8 bytes. Exact on every
// target because |b| <= 64 (kMaxWeight): pmaddubsw's int16 pair sums cannot saturate.
HWY_INLINE VI Dot(VI acc, VI a, VI b) {
#if HWY_TARGET == HWY_AVX3_DL
  return VI{_mm512_dpbusd_epi32(acc.raw, a.raw, b.raw)};
#elif HWY_TARGET == HWY_AVX3
  return hn::Add(acc, VI{_mm512_madd_epi16(_mm512_maddubs_epi16(a.raw, b.raw), _mm512_set1_epi16(1))});
#elif HWY_TARGET == HWY_AVX2
  return hn::Add(acc, VI{_mm256_madd_epi16(_mm256_maddubs_epi16(a.raw, b.raw), _mm256_set1_epi16(1))});
#elif HWY_TARGET == HWY_SSE4
  return hn::Add(acc, VI{_mm_madd_epi16(_mm_maddubs_epi16(a.raw, b.raw), _mm_set1_epi16(1))});
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

int64_t PanelWidth(int64_t cout) { return std::min<int64_t>(kMaxVectors, (cout + kLanes - 1) / kLanes) * kLanes; }

void PackWeights(const int8_t* w, int64_t cout, int64_t kh, int64_t kw, int64_t cin, PackedWeights& out) {
  const int64_t cs = channel_stride(cin);
  out.cout = cout;
  out.kh = kh;
  out.kw = kw;
  out.cin = cin;
  out.groups = kh * kw * cs / 4;
  out.panel_width = PanelWidth(cout);
  out.panels = (cout + out.panel_width - 1) / out.panel_width;
  out.data.assign(static_cast<size_t>(out.panels * out.groups * out.panel_width * 4), 0);
  for (int64_t oc = 0; oc < cout; ++oc) {
    const int64_t p = oc / out.panel_width, j = oc % out.panel_width;
    for (int64_t s = 0; s < kh * kw; ++s)
      for (int64_t ci = 0; ci < cin; ++ci) {
        const int64_t g = (s * cs + ci) / 4;
        out.data[static_cast<size_t>(((p * out.groups + g) * out.panel_width + j) * 4 + ci % 4)] =
            w[(oc * kh * kw + s) * cin + ci];
      }
  }
}

template <int MR, int NV>
HWY_INLINE void Accumulate(const uint8_t* const* HWY_RESTRICT rows, int64_t groups, const int32_t* HWY_RESTRICT b,
                           int64_t panel_width, VI (&acc)[MR][NV]) {
  const DI di;
  for (int64_t g = 0; g < groups; ++g, b += panel_width) {
    VI bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = hn::LoadU(di, b + j * kLanes);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      int32_t word;
      std::memcpy(&word, rows[i] + 4 * g, 4);
      const VI av = hn::Set(di, word);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = Dot(acc[i][j], av, bv[j]);
    }
  }
}

struct RowPos {
  int64_t n, oy, ox;
};

// Requantises (or stores as float) one vector of sums: channels [c0, c0 + kLanes) of output pixel
// `row` at `pos`; corr, mult and bias are that vector's per-channel constants. later_rows: rows of
// this tile after this one and next to it in memory, which are written after it, so whole vectors
// may run into their channels (and reads of a stride-1 residual into theirs); past them (another
// task's rows, or the frame at the end of an image row) they may not.
HWY_INLINE void Epilogue(const ConvJob& job, int64_t row, const RowPos& pos, int64_t c0, VI acc, VI corr, VF mult,
                         VF bias, int64_t later_rows) {
  const DI di;
  const DF df;
  const DU8 du8;
  VF y = hn::Add(hn::Mul(hn::ConvertTo(df, hn::Sub(acc, corr)), mult), bias);
  const VF zero = hn::Zero(df);
  if (job.relu) y = hn::Max(y, zero);
  if (job.residual != nullptr) {
    const Residual& r = *job.residual;
    const QTensorView& t = r.tensor;
    const uint8_t* src = t.at(pos.n, pos.oy * r.stride, pos.ox * r.stride);
    VI rq;
    if (r.channel_offset == 0 && (r.stride == 1 ? c0 + kLanes <= t.cs * (1 + later_rows) : c0 + kLanes <= t.cs)) {
      rq = hn::PromoteTo(di, hn::LoadU(du8, src + c0));
    } else {
      // Channels outside [offset, offset + t.c) are the zero padding: real 0, i.e. the zero point.
      uint8_t tmp[kLanes];
      for (int64_t j = 0; j < kLanes; ++j) {
        const int64_t rc = c0 + j - r.channel_offset;
        tmp[j] = (rc >= 0 && rc < t.c) ? src[rc] : static_cast<uint8_t>(t.zero_point);
      }
      rq = hn::PromoteTo(di, hn::LoadU(du8, tmp));
    }
    rq = hn::Sub(rq, hn::Set(di, t.zero_point));
    y = hn::Add(y, hn::Mul(hn::ConvertTo(df, rq), hn::Set(df, t.scale)));
    if (job.relu_after_add) y = hn::Max(y, zero);
  }
  if (job.out_f32 != nullptr) {
    float* dst = job.out_f32 + row * job.cout + c0;
    if (c0 + kLanes <= job.cout * (1 + later_rows)) {
      hn::StoreU(y, df, dst);
    } else {
      float tmp[kLanes];
      hn::StoreU(y, df, tmp);
      std::copy(tmp, tmp + (job.cout - c0), dst);
    }
    return;
  }
  VF t = hn::Add(hn::Mul(y, hn::Set(df, job.out_inv_scale)), hn::Set(df, static_cast<float>(job.out_zero_point)));
  t = hn::Min(hn::Max(t, zero), hn::Set(df, 255.0f));
  const auto q = hn::DemoteTo(du8, hn::NearestInt(t));
  const int64_t cs = channel_stride(job.cout), b = job.out_border;
  uint8_t* dst = job.out_u8 + ((pos.n * (job.ho + 2 * b) + pos.oy + b) * (job.wo + 2 * b) + pos.ox + b) * cs + c0;
  if (c0 + kLanes <= cs * (1 + later_rows)) {
    hn::StoreU(q, du8, dst);
  } else {
    uint8_t tmp[kLanes];
    hn::StoreU(q, du8, tmp);
    std::copy(tmp, tmp + (cs - c0), dst);
  }
}

template <int NV>
void ConvRowsNV(const ConvJob& job, int64_t row_begin, int64_t row_end) {
  constexpr int MR = RowsFor(NV);
  const DI di;
  const DF df;
  const PackedWeights& pw = *job.weights;
  const QTensorView& in = job.input;
  const int64_t cs = in.cs, seg_groups = cs / 4, per_image = job.ho * job.wo;
  // Per row, room for a copy of its window: the kh x kw pixels of a border pixel, or with a shift
  // the cs channels each read from its own offset.
  const int64_t window = job.shift != nullptr ? cs : job.kh * job.kw * cs;
  std::vector<uint8_t> wbuf(static_cast<size_t>(MR * window));
  HWY_ALIGN int32_t sums[MR * NV * kLanes];
  const auto* b_all = reinterpret_cast<const int32_t*>(pw.data.data());
  const bool single_panel = pw.panels == 1;
  // Later rows of a tile are next in memory for the output and a stride-1 residual alike only when
  // neither has a frame.
  const bool frameless = job.out_border == 0 && (job.residual == nullptr || job.residual->tensor.border == 0);
  // The (image, y, x) of the next row, advanced without divisions.
  RowPos next{row_begin / per_image, (row_begin % per_image) / job.wo, row_begin % job.wo};
  for (int64_t row0 = row_begin; row0 < row_end; row0 += MR) {
    const int64_t rows = std::min<int64_t>(MR, row_end - row0);
    RowPos pos[MR];
    for (int i = 0; i < MR; ++i) {
      if (i >= rows) {  // rows past the end repeat the last (computed, never stored)
        pos[i] = pos[rows - 1];
        continue;
      }
      pos[i] = next;
      if (++next.ox == job.wo) {
        next.ox = 0;
        if (++next.oy == job.ho) {
          next.oy = 0;
          ++next.n;
        }
      }
    }
    // Each row reads its window through a pointer and a row step: straight from the input when the
    // window is inside the image (kw adjacent pixels per kernel row, one image row apart), else from
    // a copy of the window with the zero point outside the image (border pixels only).
    const uint8_t* base[MR];
    int64_t step[MR];
    if (job.shift != nullptr) {
      for (int i = 0; i < MR; ++i) {
        uint8_t* dst = wbuf.data() + i * window;
        const int64_t y0 = pos[i].oy * job.stride, x0 = pos[i].ox * job.stride;
        for (int64_t ci = 0; ci < in.c; ++ci) {
          const int64_t iy = y0 + job.shift[2 * ci], ix = x0 + job.shift[2 * ci + 1];
          dst[ci] = (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) ? static_cast<uint8_t>(in.zero_point)
                                                                    : in.at(pos[i].n, iy, ix)[ci];
        }
        std::fill(dst + in.c, dst + cs, static_cast<uint8_t>(in.zero_point));
        base[i] = dst;
        step[i] = 0;
      }
    } else {
      for (int i = 0; i < MR; ++i) {
        const int64_t y0 = pos[i].oy * job.stride - job.pad, x0 = pos[i].ox * job.stride - job.pad;
        const int64_t b = in.border;
        if (y0 >= -b && y0 + job.kh <= in.h + b && x0 >= -b && x0 + job.kw <= in.w + b) {
          base[i] = in.at(pos[i].n, y0, x0);
          step[i] = in.row_bytes();
          continue;
        }
        // Word copies (cs is a multiple of 4): a library call per pixel would cost more than the copy.
        uint8_t* dst = wbuf.data() + i * window;
        const uint32_t zp_word = static_cast<uint32_t>(in.zero_point) * 0x01010101u;
        for (int64_t ky = 0; ky < job.kh; ++ky)
          for (int64_t kx = 0; kx < job.kw; ++kx, dst += cs) {
            const int64_t iy = y0 + ky, ix = x0 + kx;
            const bool outside = iy < 0 || iy >= in.h || ix < 0 || ix >= in.w;
            const uint8_t* src = outside ? nullptr : in.at(pos[i].n, iy, ix);
            for (int64_t q = 0; q < cs; q += 4) std::memcpy(dst + q, outside ? static_cast<const void*>(&zp_word) : src + q, 4);
          }
        base[i] = wbuf.data() + i * window;
        step[i] = job.kw * cs;
      }
    }
    const int64_t kernel_rows = job.shift != nullptr ? 1 : job.kh;
    const int64_t row_groups = job.shift != nullptr ? seg_groups : job.kw * seg_groups;
    for (int64_t p = 0; p < pw.panels; ++p) {
      const int32_t* b = b_all + p * pw.groups * pw.panel_width;
      VI acc[MR][NV];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = hn::Zero(di);
      const uint8_t* ptr[MR];
      for (int i = 0; i < MR; ++i) ptr[i] = base[i];
      for (int64_t ky = 0; ky < kernel_rows; ++ky, b += row_groups * pw.panel_width) {
        Accumulate<MR, NV>(ptr, row_groups, b, pw.panel_width, acc);
        for (int i = 0; i < MR; ++i) ptr[i] += step[i];
      }
      // Out of registers with constant indices only: an array indexed by run-time row and vector
      // would keep the accumulators in memory through the k loop.
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) hn::StoreU(acc[i][j], di, sums + (i * NV + j) * kLanes);
      VI corr[NV];
      VF mult[NV], bias[NV];
      for (int j = 0; j < NV; ++j) {
        const int64_t c0 = p * pw.panel_width + j * kLanes;
        corr[j] = hn::LoadU(di, job.correction + c0);
        mult[j] = hn::LoadU(df, job.multiplier + c0);
        bias[j] = hn::LoadU(df, job.bias + c0);
      }
      // Rows in order: with one panel, a vector running past a row's channels lands in later rows of
      // the tile, written after it (with several, the next row's first panel is already written).
      // Without a frame, rows are contiguous across image rows and images; with one, within a row.
      for (int i = 0; i < rows; ++i) {
        const int64_t later = !single_panel ? 0
                              : frameless   ? rows - 1 - i
                                            : std::min<int64_t>(rows - 1 - i, job.wo - 1 - pos[i].ox);
        for (int j = 0; j < NV; ++j) {
          const int64_t c0 = p * pw.panel_width + j * kLanes;
          if (c0 >= job.cout) break;
          Epilogue(job, row0 + i, pos[i], c0, hn::LoadU(di, sums + (i * NV + j) * kLanes), corr[j], mult[j], bias[j],
                   later);
        }
      }
    }
  }
}

void ConvRows(const ConvJob& job, int64_t row_begin, int64_t row_end) {
  const int64_t nv = job.weights->panel_width / kLanes;
  if (nv == 1) return ConvRowsNV<1>(job, row_begin, row_end);
  if (nv == 2) return ConvRowsNV<2>(job, row_begin, row_end);
  if constexpr (kMaxVectors >= 4) {
    if (nv == 3) return ConvRowsNV<3>(job, row_begin, row_end);
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
