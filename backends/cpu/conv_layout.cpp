// See conv_layout.h.
#include "backends/cpu/conv_layout.h"

#include <algorithm>

#include "backends/cpu/simd/kernels.h"

namespace sl::cpu {

namespace {

// Stride 2: tap offset t = i*d - p reads phase t mod 2 at phase row (column) o + floor(t / 2).
int64_t phase_of(int64_t t) { return t & 1; }
int64_t phase_shift(int64_t t) { return (t - (t & 1)) / 2; }

}  // namespace

bool polyphase(const Conv2dParams& p) { return p.sh == 2 && p.sw == 2 && (p.kh > 1 || p.kw > 1); }

bool implicit_stride(const Conv2dParams& p) { return (p.sh == 1 && p.sw == 1) || polyphase(p); }

PaddedLayout padded_layout(const Conv2dParams& p, int64_t channels) {
  PaddedLayout l;
  if (!polyphase(p)) {
    l.hp = p.h + 2 * p.ph;
    l.wp = p.w + 2 * p.pw;
    l.plane = l.hp * l.wp;
    l.phases = 1;
    l.top = p.ph;
    l.left = p.pw;
    l.size = static_cast<size_t>(channels * l.plane + p.dw * (p.kw - 1) + 16);
    return l;
  }
  const int64_t min_r = phase_shift(-p.ph), max_r = phase_shift(p.dh * (p.kh - 1) - p.ph);
  const int64_t min_c = phase_shift(-p.pw), max_c = phase_shift(p.dw * (p.kw - 1) - p.pw);
  l.top = std::max<int64_t>(0, -min_r);
  l.left = std::max<int64_t>(0, -min_c);
  l.hp = l.top + std::max((p.h + 1) / 2, p.ho + max_r);
  l.wp = l.left + std::max((p.w + 1) / 2, p.wo + max_c);
  l.plane = l.hp * l.wp;
  l.phases = 4;
  l.size = static_cast<size_t>(channels * 4 * l.plane + l.wp + 16);
  return l;
}

void pad_planes(const Conv2dParams& p, const PaddedLayout& l, int64_t channels, const float* x, float* padded) {
  if (l.phases == 1) {
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t r = 0; r < p.h; ++r)
        std::copy(x + (c * p.h + r) * p.w, x + (c * p.h + r + 1) * p.w, padded + c * l.plane + (r + l.top) * l.wp + l.left);
    return;
  }
  // Phase (a, b) of channel c is plane c * 4 + a * 2 + b: input row ih's columns go to phase row
  // top + ih / 2 of phases (ih mod 2, 0) and (ih mod 2, 1).
  for (int64_t c = 0; c < channels; ++c)
    simd().deinterleave2(x + c * p.h * p.w, p.h, p.w, padded + c * 4 * l.plane + l.top * l.wp + l.left, 2 * l.plane,
                         l.wp, l.plane);
}

void tap_rows(const Conv2dParams& p, const PaddedLayout& l, int64_t channels, const float* padded,
              std::vector<const float*>& rows) {
  rows.resize(static_cast<size_t>(channels * p.kh * p.kw));
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < p.kh; ++i)
      for (int64_t j = 0; j < p.kw; ++j) {
        const float*& row = rows[static_cast<size_t>((c * p.kh + i) * p.kw + j)];
        if (l.phases == 1) {
          row = padded + c * l.plane + i * p.dh * l.wp + j * p.dw;
          continue;
        }
        const int64_t ti = i * p.dh - p.ph, tj = j * p.dw - p.pw;
        row = padded + (c * 4 + phase_of(ti) * 2 + phase_of(tj)) * l.plane + (l.top + phase_shift(ti)) * l.wp + l.left +
              phase_shift(tj);
      }
}

}  // namespace sl::cpu
