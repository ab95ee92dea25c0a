// See depthwise.h. Planes run in parallel, each thread with its own zeroed padded buffer (only the
// interior is written, so the borders stay zero from plane to plane).
#include "backends/cpu/depthwise.h"

#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <vector>

#include "backends/cpu/conv_layout.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/simd/kernels.h"
#include "backends/cpu/simd/sum_lanes.h"

namespace sl::cpu {

namespace {

// One channel's plane padded into `buf` (a zeroed buffer of the layout) and its tap rows.
struct PaddedPlane {
  PaddedLayout layout;
  std::vector<float> buf;
  std::vector<const float*> rows;

  explicit PaddedPlane(const Conv2dParams& p) : layout(padded_layout(p, 1)), buf(layout.size, 0.0f) {}
  void load(const Conv2dParams& p, const float* plane) {
    pad_planes(p, layout, 1, plane, buf.data());
    tap_rows(p, layout, 1, buf.data(), rows);
  }
};

}  // namespace

bool is_depthwise(const Conv2dParams& p) { return p.groups > 1 && p.cin == p.groups && p.cout == p.groups; }

bool depthwise_applies(const Conv2dParams& p) { return is_depthwise(p) && implicit_stride(p) && p.ho > 0 && p.wo > 0; }

void depthwise_forward(const Conv2dParams& p, const float* x, const float* w, float* y) {
  const SimdKernels& k = simd();
  const int64_t taps = p.kh * p.kw, hw_in = p.h * p.w, hw_out = p.ho * p.wo;
  struct Scratch {
    PaddedPlane plane;
    std::vector<float> out;
  };
  const int64_t wp = padded_layout(p, 1).wp, n_out = p.ho * wp + k.f32_lanes;
  tbb::enumerable_thread_specific<Scratch> scratch(
      [&] { return Scratch{PaddedPlane(p), std::vector<float>(static_cast<size_t>(n_out))}; });
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, hw_out));
  parallel_for(p.n * p.cin, grain, [&](int64_t b, int64_t e) {
    Scratch& s = scratch.local();
    for (int64_t plane = b; plane < e; ++plane) {
      const int64_t c = plane % p.cin;
      s.plane.load(p, x + plane * hw_in);
      k.depthwise_forward(s.plane.rows.data(), w + c * taps, taps, p.ho * wp, s.out.data());
      float* yp = y + plane * hw_out;
      for (int64_t oh = 0; oh < p.ho; ++oh)
        std::copy(s.out.data() + oh * wp, s.out.data() + oh * wp + p.wo, yp + oh * p.wo);
    }
  });
}

void depthwise_backward_input(const Conv2dParams& p, const float* gy, const float* w, float* gx) {
  const SimdKernels& k = simd();
  const int64_t taps = p.kh * p.kw, hw_in = p.h * p.w, hw_out = p.ho * p.wo;
  // gx's rows (columns) of residue a mod sh (sw) form a phase; tap offset t = i*d - pad adds output
  // row oh to phase row oh + floor(t / s) of phase t mod s, a unit-stride vector add. The phases
  // are framed with `top` rows and `left` columns before their row (column) 0, so taps that land
  // outside gx land in the frame and are dropped, as col2im drops them.
  auto fdiv = [](int64_t a, int64_t s) { return a >= 0 ? a / s : -((-a + s - 1) / s); };
  auto fmod = [&](int64_t a, int64_t s) { return a - fdiv(a, s) * s; };
  int64_t min_sy = 0, max_sy = 0, min_sx = 0, max_sx = 0;
  for (int64_t i = 0; i < p.kh; ++i) {
    const int64_t sy = fdiv(i * p.dh - p.ph, p.sh);
    min_sy = std::min(min_sy, sy);
    max_sy = std::max(max_sy, sy);
  }
  for (int64_t j = 0; j < p.kw; ++j) {
    const int64_t sx = fdiv(j * p.dw - p.pw, p.sw);
    min_sx = std::min(min_sx, sx);
    max_sx = std::max(max_sx, sx);
  }
  const int64_t top = -min_sy, left = -min_sx;
  const int64_t rows = top + std::max((p.h + p.sh - 1) / p.sh, p.ho + max_sy);
  const int64_t cols = left + std::max((p.w + p.sw - 1) / p.sw, p.wo + max_sx);
  const int64_t phase_size = rows * cols, phases = p.sh * p.sw;
  std::vector<int64_t> offsets;  // where each tap's row 0 lands among the phases
  for (int64_t i = 0; i < p.kh; ++i)
    for (int64_t j = 0; j < p.kw; ++j) {
      const int64_t ty = i * p.dh - p.ph, tx = j * p.dw - p.pw;
      offsets.push_back((fmod(ty, p.sh) * p.sw + fmod(tx, p.sw)) * phase_size + (top + fdiv(ty, p.sh)) * cols + left +
                        fdiv(tx, p.sw));
    }
  tbb::enumerable_thread_specific<std::vector<float>> scratch(
      [&] { return std::vector<float>(static_cast<size_t>(phases * phase_size + cols)); });
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, hw_out));
  parallel_for(p.n * p.cin, grain, [&](int64_t b, int64_t e) {
    float* ph = scratch.local().data();
    for (int64_t plane = b; plane < e; ++plane) {
      std::fill(ph, ph + phases * phase_size, 0.0f);
      k.depthwise_scatter(gy + plane * hw_out, p.ho, p.wo, w + (plane % p.cin) * taps, offsets.data(), taps, cols, ph);
      float* out = gx + plane * hw_in;
      const float* interior = ph + top * cols + left;
      if (p.sh == 2 && p.sw == 2) {
        k.interleave2(interior, 2 * phase_size, cols, phase_size, p.h, p.w, out);
        continue;
      }
      for (int64_t ih = 0; ih < p.h; ++ih)
        for (int64_t iw = 0; iw < p.w; ++iw)
          out[ih * p.w + iw] =
              interior[((ih % p.sh) * p.sw + iw % p.sw) * phase_size + (ih / p.sh) * cols + iw / p.sw];
    }
  });
}

void depthwise_backward_weight(const Conv2dParams& p, const float* x, const float* gy, float* gw) {
  const SimdKernels& k = simd();
  const int64_t taps = p.kh * p.kw, hw_in = p.h * p.w, hw_out = p.ho * p.wo;
  const int64_t parts = std::min<int64_t>(p.n, 8);
  const int64_t wp = padded_layout(p, 1).wp;
  tbb::enumerable_thread_specific<PaddedPlane> planes([&] { return PaddedPlane(p); });
  parallel_for(p.cin, 1, [&](int64_t c0, int64_t c1) {
    PaddedPlane& pp = planes.local();
    std::vector<float> acc(static_cast<size_t>(taps * kSumLanes));
    for (int64_t c = c0; c < c1; ++c) {
      float* gwc = gw + c * taps;
      std::fill(gwc, gwc + taps, 0.0f);
      for (int64_t part = 0; part < parts; ++part) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t n = p.n * part / parts; n < p.n * (part + 1) / parts; ++n) {
          pp.load(p, x + (n * p.cin + c) * hw_in);
          k.depthwise_weight(pp.rows.data(), gy + (n * p.cin + c) * hw_out, taps, p.ho, p.wo, wp, acc.data());
        }
        for (int64_t t = 0; t < taps; ++t) gwc[t] += fold_lanes(acc.data() + t * kSumLanes);
      }
    }
  });
}

}  // namespace sl::cpu
