// The deploy runtime's memory-bound kernels, per target: 2x2 max pooling on uint8 NHWC (max commutes
// with the monotone requantisation, so scale and zero point pass through) and the quantisation of
// float NCHW input images to uint8 NHWC (channels padded to the stride of 4).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "deploy/kernels/misc_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "deploy/kernels/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace sl::deploy::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

void MaxPool2x2(const uint8_t* in, int64_t h, int64_t w, int64_t c, uint8_t* out, int64_t ho, int64_t wo,
                int64_t pixel_begin, int64_t pixel_end) {  // c: the channel stride
  // 16-byte vectors: channel counts are small multiples of 4, rarely of a whole AVX-512 vector.
  const hn::CappedTag<uint8_t, 16> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t per_image = ho * wo;
  for (int64_t p = pixel_begin; p < pixel_end; ++p) {
    const int64_t n = p / per_image, oy = (p % per_image) / wo, ox = p % wo;
    const uint8_t* r0 = in + ((n * h + 2 * oy) * w + 2 * ox) * c;
    const uint8_t* r1 = r0 + w * c;
    uint8_t* o = out + p * c;
    int64_t i = 0;
    for (; i + lanes <= c; i += lanes) {
      const auto top = hn::Max(hn::LoadU(d, r0 + i), hn::LoadU(d, r0 + c + i));
      const auto bottom = hn::Max(hn::LoadU(d, r1 + i), hn::LoadU(d, r1 + c + i));
      hn::StoreU(hn::Max(top, bottom), d, o + i);
    }
    for (; i < c; ++i) o[i] = std::max(std::max(r0[i], r0[c + i]), std::max(r1[i], r1[c + i]));
  }
}

// Same IEEE operations as the scalar reference: multiply, add, clamp, round half to even.
void QuantizeInput(const float* x, int64_t n, int64_t c, int64_t hw, int64_t cs, float inv_scale, int32_t zero_point,
                   uint8_t* q) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto inv = hn::Set(df, inv_scale), zp = hn::Set(df, static_cast<float>(zero_point));
  const auto lo = hn::Zero(df), hi = hn::Set(df, 255.0f);
  std::vector<uint8_t> plane_q(static_cast<size_t>(hw));
  for (int64_t img = 0; img < n; ++img) {
    uint8_t* dst = q + img * hw * cs;
    if (cs > c && !(c == 1 && cs == 4))
      for (int64_t i = 0; i < hw; ++i) std::fill(dst + i * cs + c, dst + (i + 1) * cs, static_cast<uint8_t>(zero_point));
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* plane = x + (img * c + ch) * hw;
      int64_t i = 0;
      for (; i + lanes <= hw; i += lanes) {
        auto t = hn::Add(hn::Mul(hn::LoadU(df, plane + i), inv), zp);
        t = hn::Min(hn::Max(t, lo), hi);
        hn::StoreU(hn::DemoteTo(du8, hn::NearestInt(t)), du8, plane_q.data() + i);
      }
      for (; i < hw; ++i) plane_q[static_cast<size_t>(i)] = requantize(plane[i], inv_scale, zero_point);
      if (c == 1 && cs == 4) {  // one word per pixel: the code, then three padding zero points
        const uint32_t pad = static_cast<uint32_t>(zero_point) * 0x01010100u;
        for (i = 0; i < hw; ++i) {
          const uint32_t word = plane_q[static_cast<size_t>(i)] | pad;
          std::memcpy(dst + 4 * i, &word, 4);
        }
      } else {
        for (i = 0; i < hw; ++i) dst[i * cs + ch] = plane_q[static_cast<size_t>(i)];
      }
    }
  }
}

}  // namespace

void FillMiscKernels(DeployKernels* k) {
  k->max_pool_2x2 = &MaxPool2x2;
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
