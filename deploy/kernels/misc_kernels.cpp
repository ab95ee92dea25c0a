// The deploy runtime's memory-bound kernels, per target: max pooling on uint8 NHWC (max commutes
// with the monotone requantisation, so scale and zero point pass through) and the quantisation of
// float NCHW input images to uint8 NHWC (channels padded to the stride of 4).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "deploy/kernels/misc_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <vector>

#include "deploy/kernels/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace sl::deploy::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

// The max over a window of pixels (rows of `cols` pixels, `row_step` bytes apart; pixels cs bytes
// apart) of `count` channels from byte i, in vectors of d's lanes; returns the next channel.
template <class D>
HWY_INLINE int64_t MaxWindow(D d, const uint8_t* first, int64_t rows, int64_t cols, int64_t row_step, int64_t cs,
                             int64_t i, int64_t count, uint8_t* o) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  for (; i + lanes <= count; i += lanes) {
    auto m = hn::LoadU(d, first + i);
    const uint8_t* row = first + i;
    for (int64_t y = 0; y < rows; ++y, row += row_step)
      for (int64_t x = 0; x < cols; ++x) m = hn::Max(m, hn::LoadU(d, row + x * cs));
    hn::StoreU(m, d, o + i);
  }
  return i;
}

void MaxPool(const QTensorView& in, const QTensorView& out, int64_t kernel, int64_t stride, int64_t pad,
             int64_t pixel_begin, int64_t pixel_end) {
  // 16-byte vectors: channel counts are small multiples of 4, rarely of a whole AVX-512 vector;
  // their tails in 8 and 4 bytes (a channel stride of 4 or more is a multiple of 4).
  const hn::CappedTag<uint8_t, 16> d16;
  const hn::CappedTag<uint8_t, 8> d8;
  const hn::CappedTag<uint8_t, 4> d4;
  const int64_t c = in.cs, per_image = out.h * out.w, row_step = in.row_bytes();
  int64_t n = pixel_begin / per_image, oy = (pixel_begin % per_image) / out.w, ox = pixel_begin % out.w;
  for (int64_t p = pixel_begin; p < pixel_end; ++p) {
    // The window clipped to the image: padding never wins a max.
    const int64_t y0 = std::max<int64_t>(0, oy * stride - pad), y1 = std::min(in.h, oy * stride - pad + kernel);
    const int64_t x0 = std::max<int64_t>(0, ox * stride - pad), x1 = std::min(in.w, ox * stride - pad + kernel);
    const uint8_t* first = in.at(n, y0, x0);
    uint8_t* o = const_cast<uint8_t*>(out.at(n, oy, ox));
    int64_t i = MaxWindow(d16, first, y1 - y0, x1 - x0, row_step, c, 0, c, o);
    i = MaxWindow(d8, first, y1 - y0, x1 - x0, row_step, c, i, c, o);
    i = MaxWindow(d4, first, y1 - y0, x1 - x0, row_step, c, i, c, o);
    for (; i < c; ++i) {
      uint8_t m = first[i];
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) m = std::max(m, in.at(n, y, x)[i]);
      o[i] = m;
    }
    if (++ox == out.w) {
      ox = 0;
      if (++oy == out.h) {
        oy = 0;
        ++n;
      }
    }
  }
}

void MapBytes(const uint8_t* in, int64_t n, const uint8_t* table, uint8_t* out) {
  int64_t i = 0;
#if HWY_TARGET == HWY_AVX3_DL
  // AVX-512 VBMI (part of this target): vpermi2b looks 64 bytes up in a 128-entry table (the low 7
  // bits); the top bit picks the table's half.
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  for (; i + 64 <= n; i += 64) {
    const __m512i x = _mm512_loadu_si512(in + i);
    const __m512i lo = _mm512_permutex2var_epi8(t0, x, t1), hi = _mm512_permutex2var_epi8(t2, x, t3);
    _mm512_storeu_si512(out + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), lo, hi));
  }
#endif
  for (; i < n; ++i) out[i] = table[in[i]];
}

// Same IEEE operations as the scalar reference: multiply, add, clamp, round half to even.
void QuantizeInput(const float* images, const QTensorView& out, float inv_scale) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const int64_t c = out.c, cs = out.cs, hw = out.h * out.w;
  const int32_t zero_point = out.zero_point;
  const auto inv = hn::Set(df, inv_scale), zp = hn::Set(df, static_cast<float>(zero_point));
  const auto lo = hn::Zero(df), hi = hn::Set(df, 255.0f);
  if (c == cs && c <= 4) {  // images (1 to 4 dense channels): a vector of pixels, stored interleaved
    for (int64_t img = 0; img < out.n; ++img)
      for (int64_t y = 0; y < out.h; ++y) {
        auto* dst = const_cast<uint8_t*>(out.at(img, y, 0));
        const float* src = images + img * c * hw + y * out.w;
        int64_t x = 0;
        for (; x + lanes <= out.w; x += lanes) {
          hn::Vec<decltype(du8)> q[4];
          for (int64_t ch = 0; ch < c; ++ch) {
            const auto t = hn::Add(hn::Mul(hn::LoadU(df, src + ch * hw + x), inv), zp);
            q[ch] = hn::DemoteTo(du8, hn::NearestInt(hn::Min(hn::Max(t, lo), hi)));
          }
          uint8_t* d = dst + c * x;
          if (c == 1) hn::StoreU(q[0], du8, d);
          else if (c == 2) hn::StoreInterleaved2(q[0], q[1], du8, d);
          else if (c == 3) hn::StoreInterleaved3(q[0], q[1], q[2], du8, d);
          else hn::StoreInterleaved4(q[0], q[1], q[2], q[3], du8, d);
        }
        for (; x < out.w; ++x)
          for (int64_t ch = 0; ch < c; ++ch) dst[c * x + ch] = requantize(src[ch * hw + x], inv_scale, zero_point);
      }
    return;
  }
  std::vector<uint8_t> plane_q(static_cast<size_t>(hw));
  for (int64_t img = 0; img < out.n; ++img) {
    // Interior row y of this image: out.at(img, y, 0) onwards, cs bytes a pixel.
    auto row = [&](int64_t y) { return const_cast<uint8_t*>(out.at(img, y, 0)); };
    if (cs > c)
      for (int64_t y = 0; y < out.h; ++y)
        for (int64_t x = 0; x < out.w; ++x) std::fill(row(y) + x * cs + c, row(y) + (x + 1) * cs, static_cast<uint8_t>(zero_point));
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* plane = images + (img * c + ch) * hw;
      int64_t i = 0;
      for (; i + lanes <= hw; i += lanes) {
        auto t = hn::Add(hn::Mul(hn::LoadU(df, plane + i), inv), zp);
        t = hn::Min(hn::Max(t, lo), hi);
        hn::StoreU(hn::DemoteTo(du8, hn::NearestInt(t)), du8, plane_q.data() + i);
      }
      for (; i < hw; ++i) plane_q[static_cast<size_t>(i)] = requantize(plane[i], inv_scale, zero_point);
      for (int64_t y = 0; y < out.h; ++y) {
        uint8_t* dst = row(y) + ch;
        const uint8_t* src = plane_q.data() + y * out.w;
        for (int64_t x = 0; x < out.w; ++x) dst[x * cs] = src[x];
      }
    }
  }
}

}  // namespace

void FillMiscKernels(DeployKernels* k) {
  k->max_pool = &MaxPool;
  k->map_bytes = &MapBytes;
  k->quantize_input = &QuantizeInput;
}

}  // namespace sl::deploy::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::deploy {
HWY_EXPORT(FillMiscKernels);
void fill_misc_kernels(DeployKernels& k) { HWY_DYNAMIC_DISPATCH(FillMiscKernels)(&k); }
}  // namespace sl::deploy
#endif
