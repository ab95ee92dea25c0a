// What the per-target conv kernel files share (deploy/kernels/conv_kernels.cpp, the direct implicit
// GEMM, and winograd_kernels.cpp): the vector types, the register count and the epilogue that turns a
// vector of exact int32 sums into output codes with the same IEEE operations on every target.
// Include it after <hwy/highway.h> in a foreach_target file (Highway's -inl.h pattern).
#if defined(SL_DEPLOY_EPILOGUE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SL_DEPLOY_EPILOGUE_INL_H_
#undef SL_DEPLOY_EPILOGUE_INL_H_
#else
#define SL_DEPLOY_EPILOGUE_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "deploy/kernels/kernels.h"

HWY_BEFORE_NAMESPACE();
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

// Nearest integer, ties to even, of values already clamped to [0, 255] (so the overflow fix-ups
// of hn::NearestInt are not needed): x86's cvtps2dq under the default rounding mode, which is
// std::nearbyint's in the scalar reference.
HWY_INLINE VI RoundToInt(VF v) {
#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3
  return VI{_mm512_cvtps_epi32(v.raw)};
#elif HWY_TARGET == HWY_AVX2
  return VI{_mm256_cvtps_epi32(v.raw)};
#elif HWY_TARGET == HWY_SSE4
  return VI{_mm_cvtps_epi32(v.raw)};
#else
  return hn::NearestInt(v);
#endif
}

// The low byte of each lane (lanes hold 0..255): one vpmovdb on AVX-512; on AVX2 a byte shuffle
// within each 128-bit half and a dword permute (two instructions, where the saturating packs
// DemoteTo uses take four and a longer chain).
HWY_INLINE hn::Vec<DU8> ToBytes(VI v) {
#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3
  return hn::Vec<DU8>{_mm512_cvtepi32_epi8(v.raw)};
#elif HWY_TARGET == HWY_AVX2
  const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                             0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i halves = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);  // dword 0 of each half, then any
  const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v.raw, low_bytes), halves);
  return hn::Vec<DU8>{_mm256_castsi256_si128(packed)};
#else
  return hn::DemoteTo(DU8(), v);
#endif
}

// What the epilogue needs of a job, copied into locals once per call: stores through uint8_t
// pointers may alias anything, which would make the compiler reload each field per vector.
struct EpilogueConsts {
  bool relu, relu_after_add, residual, nonnegative;
  int64_t cout, out_cs, res_cs;
  int32_t res_zero_point;
  VI res_zp;
  VF res_scale, floor, zero, top;
};

EpilogueConsts MakeEpilogueConsts(const ConvJob& job) {
  const DI di;
  const DF df;
  EpilogueConsts e;
  e.relu = job.relu;
  e.relu_after_add = job.relu_after_add;
  e.residual = job.residual != nullptr;
  e.cout = job.cout;
  e.out_cs = channel_stride(job.cout);
  const QTensorView* t = job.residual;
  e.res_cs = t ? t->cs : 0;
  e.res_zero_point = t ? t->zero_point : 0;
  e.res_zp = hn::Set(di, e.res_zero_point);
  e.res_scale = hn::Set(df, job.residual_scale);
  e.floor = hn::Set(df, static_cast<float>(job.out_zero_point));
  // After a last ReLU t >= zero point >= 0: the clamp at 0 would change nothing.
  e.nonnegative = e.residual ? e.relu_after_add : e.relu;
  e.zero = hn::Zero(df);
  e.top = hn::Set(df, 255.0f);
  return e;
}

// The epilogue's three stages, one vector each: the same IEEE operations in this order wherever
// they run (Epilogue below, and the kernels that take a tile's pixels side by side).
// Sums -> the output's domain, then the ReLU before any residual add.
HWY_INLINE VF ScaledSums(const EpilogueConsts& e, VI acc, VI corr, VF mult, VF bias) {
  const VF y = hn::Add(hn::Mul(hn::ConvertTo(DF(), hn::Sub(acc, corr)), mult), bias);
  return e.relu ? hn::Max(y, e.floor) : y;
}

// + the residual's codes rq (widened to int32) on the output's grid, then the ReLU after the add.
HWY_INLINE VF AddResidual(const EpilogueConsts& e, VF y, VI rq) {
  y = hn::Add(y, hn::Mul(hn::ConvertTo(DF(), hn::Sub(rq, e.res_zp)), e.res_scale));
  return e.relu_after_add ? hn::Max(y, e.floor) : y;
}

// Nearest code (half to even) of y clamped to [0, 255].
HWY_INLINE hn::Vec<DU8> Codes(const EpilogueConsts& e, VF y) {
  return ToBytes(RoundToInt(hn::Min(e.nonnegative ? y : hn::Max(y, e.zero), e.top)));
}

// Requantises (or stores as float) one vector of sums: channels [c0, c0 + kLanes) of an output pixel
// written at out_u8 / out_f32 (the pixel's first channel), with the residual pixel at res; corr, mult
// and bias are that vector's per-channel constants. later_rows: rows of the tile after this one,
// next to it in memory and written after it, so a whole vector may run into their channels (and
// reads of the residual into its own); past them (another task's rows, or the frame at the
// end of an image row) it may not.
HWY_INLINE void Epilogue(const EpilogueConsts& e, uint8_t* out_u8, float* out_f32, const uint8_t* res, int64_t later_rows,
                         int64_t c0, VI acc, VI corr, VF mult, VF bias) {
  const DI di;
  const DF df;
  const DU8 du8;
  VF y = ScaledSums(e, acc, corr, mult, bias);
  if (e.residual) {
    VI rq;
    if (c0 + kLanes <= e.res_cs * (1 + later_rows)) {
      rq = hn::PromoteTo(di, hn::LoadU(du8, res + c0));
    } else {
      uint8_t tmp[kLanes] = {};  // lanes past the channels: any value, never stored
      std::memcpy(tmp, res + c0, static_cast<size_t>(std::min(kLanes, e.res_cs - c0)));
      rq = hn::PromoteTo(di, hn::LoadU(du8, tmp));
    }
    y = AddResidual(e, y, rq);
  }
  if (out_f32 != nullptr) {
    float* dst = out_f32 + c0;
    if (c0 + kLanes <= e.cout * (1 + later_rows)) {
      hn::StoreU(y, df, dst);
    } else {
      float tmp[kLanes];
      hn::StoreU(y, df, tmp);
      std::copy(tmp, tmp + (e.cout - c0), dst);
    }
    return;
  }
  const auto q = Codes(e, y);
  uint8_t* dst = out_u8 + c0;
  if (c0 + kLanes <= e.out_cs * (1 + later_rows)) {
    hn::StoreU(q, du8, dst);
  } else {
    uint8_t tmp[kLanes];
    hn::StoreU(q, du8, tmp);
    std::copy(tmp, tmp + (e.out_cs - c0), dst);
  }
}

}  // namespace

}  // namespace sl::deploy::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SL_DEPLOY_EPILOGUE_INL_H_
