// conv2d on the per-target GEMM tiles, per image and group: f32 3x3 stride-1 convs by Winograd's
// F(4x4, 3x3) or F(2x2, 3x3) (winograd.h), depthwise convs as direct convs per plane (depthwise.h),
// other stride-1 convs as implicit GEMMs over a zero-padded copy of the input, stride-2 ones over
// its four zero-padded phases (polyphase, conv_layout.h), others as im2col + GEMM (1x1 stride-1
// unpadded convs read the input directly; ShiftResNet's shifted 1x1 convs read a per-image shifted
// copy that stays in L2). Images run in parallel (each thread owns its scratch); the weight gradient
// sums fixed batch partitions in a fixed order, so it is reproducible whatever the thread count.
#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "backends/cpu/conv_layout.h"
#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/depthwise.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/shift_plane.h"
#include "backends/cpu/winograd.h"

namespace sl::cpu {

namespace {

struct Geometry {
  int64_t cin_g, cout_g, k, hw_out, hw_in;
  bool pointwise;  // 1x1, stride 1, no padding: the input already is the column matrix
};

Geometry geometry(const Conv2dParams& p) {
  Geometry g;
  g.cin_g = p.cin / p.groups;
  g.cout_g = p.cout / p.groups;
  g.k = g.cin_g * p.kh * p.kw;
  g.hw_out = p.ho * p.wo;
  g.hw_in = p.h * p.w;
  g.pointwise = p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.ph == 0 && p.pw == 0;
  return g;
}

// Output columns [ow0, ow1) of tap column offset `off` read inside the input row: iw = ow*sw + off
// in [0, w). Outside them im2col writes zeros and col2im adds nothing.
struct ValidCols {
  int64_t ow0, ow1;
};

ValidCols valid_cols(const Conv2dParams& p, int64_t off) {
  auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
  int64_t ow0 = std::clamp<int64_t>(ceil_div(-off, p.sw), 0, p.wo);
  int64_t ow1 = std::clamp<int64_t>(ceil_div(p.w - off, p.sw), ow0, p.wo);
  return {ow0, ow1};
}

// col[(c*kh + i)*kw + j, oh*wo + ow] = x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] (0 outside).
template <class T>
void im2col(const Conv2dParams& p, int64_t channels, const T* x, T* col) {
  for (int64_t c = 0; c < channels; ++c) {
    const T* xc = x + c * p.h * p.w;
    for (int64_t i = 0; i < p.kh; ++i) {
      for (int64_t j = 0; j < p.kw; ++j) {
        T* row = col + ((c * p.kh + i) * p.kw + j) * p.ho * p.wo;
        const int64_t off = j * p.dw - p.pw;
        const ValidCols v = valid_cols(p, off);
        for (int64_t oh = 0; oh < p.ho; ++oh) {
          int64_t ih = oh * p.sh - p.ph + i * p.dh;
          T* out = row + oh * p.wo;
          if (ih < 0 || ih >= p.h) {
            std::fill(out, out + p.wo, T(0));
            continue;
          }
          const T* xr = xc + ih * p.w;
          std::fill(out, out + v.ow0, T(0));
          if (p.sw == 1) {
            std::copy(xr + v.ow0 + off, xr + v.ow1 + off, out + v.ow0);
          } else if (p.sw == 2) {
            simd().typed<T>().gather_stride2(xr + v.ow0 * 2 + off, out + v.ow0, v.ow1 - v.ow0);
          } else {
            for (int64_t ow = v.ow0; ow < v.ow1; ++ow) out[ow] = xr[ow * p.sw + off];
          }
          std::fill(out + v.ow1, out + p.wo, T(0));
        }
      }
    }
  }
}

// The adjoint of im2col: x[c, ih, iw] += col[...].
template <class T>
void col2im(const Conv2dParams& p, int64_t channels, const T* col, T* x) {
  for (int64_t c = 0; c < channels; ++c) {
    T* xc = x + c * p.h * p.w;
    for (int64_t i = 0; i < p.kh; ++i) {
      for (int64_t j = 0; j < p.kw; ++j) {
        const T* row = col + ((c * p.kh + i) * p.kw + j) * p.ho * p.wo;
        const int64_t off = j * p.dw - p.pw;
        const ValidCols v = valid_cols(p, off);
        for (int64_t oh = 0; oh < p.ho; ++oh) {
          int64_t ih = oh * p.sh - p.ph + i * p.dh;
          if (ih < 0 || ih >= p.h) continue;
          T* xr = xc + ih * p.w;
          const T* in = row + oh * p.wo;
          for (int64_t ow = v.ow0; ow < v.ow1; ++ow) xr[ow * p.sw + off] += in[ow];
        }
      }
    }
  }
}

// ShiftResNet's shift read by the 1x1 conv after it (shift_conv2d_*): input channel c of a 1x1,
// unpadded conv is read moved by shift2d_offset(c, cin, kernel, dilation). Null for a plain conv.
struct Shift {
  int64_t kernel, dilation;
  ShiftOffset offset(const Conv2dParams& p, int64_t c) const { return shift2d_offset(c, p.cin, kernel, dilation); }
};

// The column matrix of the shifted input, per image: col[c, oh*wo + ow] = x[c, oh*sh + dy, ow*sw + dx]
// (0 outside), as im2col of the shift's output would be, without that output.
template <class T>
void shifted_columns(const Conv2dParams& p, const Shift& s, const T* x, T* col) {
  for (int64_t c = 0; c < p.cin; ++c) {
    const ShiftOffset o = s.offset(p, c);
    if (p.sh == 1 && p.sw == 1) {
      shift_plane(p.h, p.w, o.dy, o.dx, x + c * p.h * p.w, col + c * p.h * p.w);
      continue;
    }
    const ValidCols v = valid_cols(p, o.dx);
    for (int64_t oh = 0; oh < p.ho; ++oh) {
      T* out = col + (c * p.ho + oh) * p.wo;
      const int64_t ih = oh * p.sh + o.dy;
      if (ih < 0 || ih >= p.h) {
        std::fill(out, out + p.wo, T(0));
        continue;
      }
      const T* xr = x + (c * p.h + ih) * p.w;
      std::fill(out, out + v.ow0, T(0));
      if (p.sw == 1) {
        std::copy(xr + v.ow0 + o.dx, xr + v.ow1 + o.dx, out + v.ow0);
      } else if (p.sw == 2) {
        simd().typed<T>().gather_stride2(xr + v.ow0 * 2 + o.dx, out + v.ow0, v.ow1 - v.ow0);
      } else {
        for (int64_t ow = v.ow0; ow < v.ow1; ++ow) out[ow] = xr[ow * p.sw + o.dx];
      }
      std::fill(out + v.ow1, out + p.wo, T(0));
    }
  }
}

// Its adjoint: gx[c, oh*sh + dy, ow*sw + dx] = col[c, oh, ow], 0 where no output reads. Strided convs
// add to zeros (as col2im, then the shift's backward copy); stride 1 copies (as the shift's backward
// of the pointwise conv's gradient), so the results equal the composition's bit for bit.
template <class T>
void shifted_columns_adjoint(const Conv2dParams& p, const Shift& s, const T* col, T* gx) {
  if (p.sw != 1 || p.sh != 1) std::fill(gx, gx + p.cin * p.h * p.w, T(0));
  for (int64_t c = 0; c < p.cin; ++c) {
    const ShiftOffset o = s.offset(p, c);
    T* gc = gx + c * p.h * p.w;
    if (p.sw == 1 && p.sh == 1) {  // the shift by (-dy, -dx): the copy, signed zeros and all
      shift_plane(p.h, p.w, -o.dy, -o.dx, col + c * p.h * p.w, gc);
      continue;
    }
    const ValidCols v = valid_cols(p, o.dx);
    for (int64_t oh = 0; oh < p.ho; ++oh) {
      const int64_t ih = oh * p.sh + o.dy;
      if (ih < 0 || ih >= p.h) continue;
      const T* in = col + (c * p.ho + oh) * p.wo;
      T* xr = gc + ih * p.w;
      for (int64_t ow = v.ow0; ow < v.ow1; ++ow) xr[ow * p.sw + o.dx] += in[ow];
    }
  }
}

// Runs body(n, scratch) for every image: in parallel over images when there are enough of them,
// otherwise serially with `parallel_inner` telling the body to use the multi-threaded GEMM.
template <class T, class Body>
void for_each_image(int64_t n, size_t scratch_elems, Body body) {
  int threads = num_threads();
  if (n >= threads && threads > 1) {
    tbb::enumerable_thread_specific<std::vector<T>> scratch([&] { return std::vector<T>(scratch_elems); });
    tbb::parallel_for(int64_t{0}, n, [&](int64_t i) { body(i, scratch.local().data(), false); });
  } else {
    std::vector<T> scratch(scratch_elems);
    for (int64_t i = 0; i < n; ++i) body(i, scratch.data(), threads > 1);
  }
}

// The weights of every group (cout_g x k) packed for the GEMM tiles, once per call, or with
// `transposed` their transposes (k x cout_g, for the input gradient); f32 only, empty otherwise.
template <class T>
std::vector<PackedA> pack_weights(const Conv2dParams& p, int64_t cout_g, int64_t k, const T* w,
                                  bool transposed = false) {
  std::vector<PackedA> packs;
  if constexpr (std::is_same_v<T, float>) {
    packs.resize(static_cast<size_t>(p.groups));
    for (int64_t grp = 0; grp < p.groups; ++grp) {
      const T* wg = w + grp * cout_g * k;
      if (transposed)
        pack_a(k, cout_g, wg, k, packs[size_t(grp)], true);
      else
        pack_a(cout_g, k, wg, k, packs[size_t(grp)]);
    }
  }
  return packs;
}

// The implicit-GEMM paths keep all of a group's packed weights next to the row pointers: meant for
// the few output channels (<= 64) of the small convs, where im2col would cost as much as the product.
bool implicit_fits(int64_t cout_g, int64_t pixels) { return cout_g <= 64 && pixels >= 16; }

// f32 convolution without im2col ("implicit GEMM"), stride 1 or 2: the input is copied once into
// zero-padded planes (per channel, or per phase for stride 2) of width wp; output pixel (oh, ow) is
// then computed at q = oh*wp + ow, where tap (c, i, j) reads its plane at a fixed offset + q: every
// GEMM row is a pointer into the padded input. Columns ow >= wo of each row are computed and dropped.
bool forward_implicit(const Conv2dParams& p, const float* x, const float* w, float* y) {
  Geometry g = geometry(p);
  if (!implicit_stride(p) || g.pointwise || !implicit_fits(g.cout_g, p.ho * p.wo)) return false;
  const PaddedLayout l = padded_layout(p, g.cin_g);
  const int64_t wp = l.wp, n_cols = p.ho * wp;
  const size_t padded_size = l.size;
  const size_t out_size = static_cast<size_t>(g.cout_g * n_cols);
  const std::vector<PackedA> packs = pack_weights(p, g.cout_g, g.k, w);
  for_each_image<float>(p.n, padded_size + out_size, [&](int64_t n, float* scratch, bool par) {
    // The scratch starts zeroed and only the interior of the planes is ever written, so the
    // borders stay zero from image to image.
    float* padded = scratch;
    float* out = scratch + padded_size;
    std::vector<const float*> rows;
    for (int64_t grp = 0; grp < p.groups; ++grp) {
      pad_planes(p, l, g.cin_g, x + (n * p.cin + grp * g.cin_g) * g.hw_in, padded);
      tap_rows(p, l, g.cin_g, padded, rows);
      const PackedA& wg = packs[static_cast<size_t>(grp)];
      gemm_packed_rows(par, wg, n_cols, rows.data(), out, n_cols, false);
      float* yg = y + (n * p.cout + grp * g.cout_g) * g.hw_out;
      for (int64_t o = 0; o < g.cout_g; ++o)
        for (int64_t r = 0; r < p.ho; ++r)
          std::copy(out + o * n_cols + r * wp, out + o * n_cols + r * wp + p.wo, yg + (o * p.ho + r) * p.wo);
    }
  });
  return true;
}

template <class T>
void forward_typed(const Conv2dParams& p, const T* x, const T* w, T* y, const Shift* shift = nullptr) {
  if constexpr (std::is_same_v<T, float>) {
    if (!shift && winograd_applies(p)) return winograd_forward(p, x, w, y);
    if (!shift && depthwise_applies(p)) return depthwise_forward(p, x, w, y);
    if (!shift && forward_implicit(p, x, w, y)) return;
  }
  Geometry g = geometry(p);
  if (shift) g.pointwise = false;
  size_t scratch = g.pointwise ? 0 : static_cast<size_t>(g.k * g.hw_out);
  const std::vector<PackedA> packs = pack_weights(p, g.cout_g, g.k, w);
  for_each_image<T>(p.n, scratch, [&](int64_t n, T* col, bool par) {
    for (int64_t grp = 0; grp < p.groups; ++grp) {
      const T* xg = x + (n * p.cin + grp * g.cin_g) * g.hw_in;
      const T* cols = xg;
      if (shift) {
        shifted_columns(p, *shift, xg, col);
        cols = col;
      } else if (!g.pointwise) {
        im2col(p, g.cin_g, xg, col);
        cols = col;
      }
      gemm<T>(par, false, false, g.cout_g, g.hw_out, g.k, T(1), w + grp * g.cout_g * g.k, g.k, cols, g.hw_out, T(0),
              y + (n * p.cout + grp * g.cout_g) * g.hw_out, g.hw_out,
              packs.empty() ? nullptr : &packs[static_cast<size_t>(grp)]);
    }
  });
}

// For stride 1 the input gradient is itself a convolution: gy (padded by d(k-1) - p) with the
// kernels flipped and in/out channels swapped per group. That runs on the forward path (im2col over
// cout*k*k rows, no col2im scatter), which is faster than a GEMM whose inner size is only cout/groups.
template <class T>
bool backward_input_as_conv(const Conv2dParams& p, const T* gy, const T* w, T* gx) {
  int64_t pad_h = p.dh * (p.kh - 1) - p.ph, pad_w = p.dw * (p.kw - 1) - p.pw;
  if (p.sh != 1 || p.sw != 1 || pad_h < 0 || pad_w < 0) return false;
  // The flipped conv computes h x (wo + 2 pad_w) pixels from every padded tap, against ho x wo for
  // the GEMM + col2im path: a "full" conv (padding k - 1, e.g. 5x5 unpadded: 8x8 -> 12x12) would
  // multiply mostly padding zeros, so it goes the GEMM way.
  if (static_cast<double>(p.h * (p.wo + 2 * pad_w)) > 1.5 * static_cast<double>(p.ho * p.wo)) return false;
  Geometry g = geometry(p);
  std::vector<T> flipped(static_cast<size_t>(p.cout * g.cin_g * p.kh * p.kw));
  for (int64_t grp = 0; grp < p.groups; ++grp)
    for (int64_t o = 0; o < g.cout_g; ++o)
      for (int64_t c = 0; c < g.cin_g; ++c)
        for (int64_t i = 0; i < p.kh; ++i)
          for (int64_t j = 0; j < p.kw; ++j)
            flipped[static_cast<size_t>((((grp * g.cin_g + c) * g.cout_g + o) * p.kh + (p.kh - 1 - i)) * p.kw +
                                        (p.kw - 1 - j))] =
                w[(((grp * g.cout_g + o) * g.cin_g + c) * p.kh + i) * p.kw + j];
  Conv2dParams q = p;
  q.cin = p.cout;
  q.cout = p.cin;
  q.h = p.ho;
  q.w = p.wo;
  q.ho = p.h;
  q.wo = p.w;
  q.ph = pad_h;
  q.pw = pad_w;
  forward_typed(q, gy, flipped.data(), gx);
  return true;
}

template <class T>
void backward_input_typed(const Conv2dParams& p, const T* gy, const T* w, T* gx, const Shift* shift = nullptr) {
  Geometry g = geometry(p);
  if (shift) g.pointwise = false;
  if (!shift && !g.pointwise && backward_input_as_conv(p, gy, w, gx)) return;
  if constexpr (std::is_same_v<T, float>) {
    if (!shift && is_depthwise(p)) return depthwise_backward_input(p, gy, w, gx);
  }
  // f32: each group's W^T packed once here, not again by every image's GEMM (MobileNetV2's 1x1
  // convs have up to 960 x 160 weights). The same tiles, the same bits.
  const std::vector<PackedA> packs = pack_weights(p, g.cout_g, g.k, w, true);
  size_t scratch = g.pointwise ? 0 : static_cast<size_t>(g.k * g.hw_out);
  for_each_image<T>(p.n, scratch, [&](int64_t n, T* col, bool par) {
    for (int64_t grp = 0; grp < p.groups; ++grp) {
      const T* gyg = gy + (n * p.cout + grp * g.cout_g) * g.hw_out;
      T* gxg = gx + (n * p.cin + grp * g.cin_g) * g.hw_in;
      // gx (or its columns) = W^T gy.
      auto product = [&](T* out) {
        gemm<T>(par, true, false, g.k, g.hw_out, g.cout_g, T(1), w + grp * g.cout_g * g.k, g.k, gyg, g.hw_out, T(0), out,
                g.hw_out, packs.empty() ? nullptr : &packs[static_cast<size_t>(grp)]);
      };
      if (g.pointwise) {
        product(gxg);
        continue;
      }
      product(col);
      if (shift) {
        shifted_columns_adjoint(p, *shift, col, gxg);
        continue;
      }
      std::fill(gxg, gxg + g.cin_g * g.hw_in, T(0));
      col2im(p, g.cin_g, col, gxg);
    }
  });
}

// The weight gradient of a stride-1 or -2 f32 conv as gW^T = (implicit column rows) * gy'^T: the rows
// point into the zero-padded input (as the forward), gy' is gy transposed into the padded-width
// pixel order with zeros in the dropped columns, so no im2col matrix is written. Partial sums are
// kept transposed (k x cout per group).
bool weight_partial_implicit(const Conv2dParams& p, int64_t n0, int64_t n1, const float* x, const float* gy,
                             float* acc, std::vector<float>& scratch) {
  Geometry g = geometry(p);
  if (!implicit_stride(p) || g.pointwise || g.cout_g > 64) return false;
  const PaddedLayout l = padded_layout(p, g.cin_g);
  const int64_t q = p.ho * l.wp;
  if (scratch.size() < l.size + static_cast<size_t>(q * g.cout_g)) scratch.resize(l.size + static_cast<size_t>(q * g.cout_g));
  float* padded = scratch.data();
  float* gyt = padded + l.size;
  // Zeroed once: the scratch may hold another layout's interior. Images write only the interior of
  // the planes and the kept columns of gy', so the borders and dropped columns stay zero.
  std::fill(padded, gyt + q * g.cout_g, 0.0f);
  std::vector<const float*> rows;
  for (int64_t n = n0; n < n1; ++n) {
    for (int64_t grp = 0; grp < p.groups; ++grp) {
      pad_planes(p, l, g.cin_g, x + (n * p.cin + grp * g.cin_g) * g.hw_in, padded);
      tap_rows(p, l, g.cin_g, padded, rows);
      const float* gyg = gy + (n * p.cout + grp * g.cout_g) * g.hw_out;
      // One output row at a time (its wp x cout block stays in L1); the dropped columns stay zero.
      for (int64_t oh = 0; oh < p.ho; ++oh)
        simd().f32.transpose(gyg + oh * p.wo, g.hw_out, g.cout_g, p.wo, gyt + oh * l.wp * g.cout_g, g.cout_g);
      simd().gemm_rows_a(g.k, g.cout_g, q, rows.data(), gyt, g.cout_g, acc + grp * g.cout_g * g.k, g.cout_g,
                         n != n0);
    }
  }
  return true;
}

template <class T>
void backward_weight_typed(const Conv2dParams& p, const T* x, const T* gy, T* gw, const Shift* shift = nullptr) {
  if constexpr (std::is_same_v<T, float>) {
    if (!shift && winograd_applies(p)) return winograd_backward_weight(p, x, gy, gw);
    if (!shift && depthwise_applies(p)) return depthwise_backward_weight(p, x, gy, gw);
  }
  Geometry g = geometry(p);
  if (shift) g.pointwise = false;  // its columns are copied (shifted), never read in place
  const int64_t wsize = p.cout * g.k;
  bool implicit = false;
  if constexpr (std::is_same_v<T, float>) implicit = !shift && implicit_stride(p) && !g.pointwise && g.cout_g <= 64;
  // gW^T = col * gy^T (k x cout) transposes gy, gW = gy * col^T transposes the column matrix: f32
  // (whose GEMM reads B's rows, so one operand is copied transposed) takes the smaller copy (gy for
  // a shifted 48 -> 16 conv, the columns for a 16 -> 48 expansion); on Eigen (f64), few output
  // channels keep their partial sums transposed. Each element is one FMA chain over the pixels in
  // order either way, so the orientation does not change the bits.
  const bool transposed = implicit || (std::is_same_v<T, float> ? g.k >= g.cout_g : g.cout_g < 32);
  // Fixed partition of the batch (independent of the thread count), summed in order at the end.
  const int64_t parts = std::min<int64_t>(p.n, 8);
  std::vector<T> partial(static_cast<size_t>(parts * wsize));
  size_t scratch = g.pointwise ? 0 : static_cast<size_t>(g.k * g.hw_out);
  tbb::enumerable_thread_specific<std::vector<T>> cols([&] { return std::vector<T>(scratch); });
  bool par_gemm = parts < num_threads();
  tbb::parallel_for(int64_t{0}, parts, [&](int64_t part) {
    int64_t n0 = p.n * part / parts, n1 = p.n * (part + 1) / parts;
    T* acc = partial.data() + part * wsize;
    if constexpr (std::is_same_v<T, float>) {
      if (implicit) {
        thread_local std::vector<float> buffer;
        weight_partial_implicit(p, n0, n1, x, gy, acc, buffer);
        return;
      }
    }
    T* col = cols.local().data();
    std::vector<T> bt;                // f32: gy^T (pixels x cout) or col^T (pixels x k)
    std::vector<const T*> arows;      // f32: the rows of the column matrix or of gy
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t grp = 0; grp < p.groups; ++grp) {
        const T* xg = x + (n * p.cin + grp * g.cin_g) * g.hw_in;
        const T* gyg = gy + (n * p.cout + grp * g.cout_g) * g.hw_out;
        T* accg = acc + grp * g.cout_g * g.k;
        const T* colp = xg;
        if (shift) {
          shifted_columns(p, *shift, xg, col);
          colp = col;
        } else if (!g.pointwise) {
          im2col(p, g.cin_g, xg, col);
          colp = col;
        }
        if constexpr (std::is_same_v<T, float>) {
          if (!par_gemm) {  // one operand's rows go straight into the tiles, the other transposed
            const T* a_op = transposed ? colp : gyg;
            const T* b_op = transposed ? gyg : colp;
            const int64_t rows = transposed ? g.k : g.cout_g, cols_n = transposed ? g.cout_g : g.k;
            bt.resize(static_cast<size_t>(g.hw_out * cols_n));
            simd().f32.transpose(b_op, g.hw_out, cols_n, g.hw_out, bt.data(), cols_n);
            arows.resize(static_cast<size_t>(rows));
            for (int64_t t = 0; t < rows; ++t) arows[static_cast<size_t>(t)] = a_op + t * g.hw_out;
            simd().gemm_rows_a(rows, cols_n, g.hw_out, arows.data(), bt.data(), cols_n, accg, cols_n, n != n0);
            continue;
          }
        }
        T beta = n == n0 ? T(0) : T(1);
        if (transposed)
          gemm<T>(par_gemm, false, true, g.k, g.cout_g, g.hw_out, T(1), colp, g.hw_out, gyg, g.hw_out, beta, accg,
                   g.cout_g);
        else
          gemm<T>(par_gemm, false, true, g.cout_g, g.k, g.hw_out, T(1), gyg, g.hw_out, colp, g.hw_out, beta, accg, g.k);
      }
    }
  });
  std::fill(gw, gw + wsize, T(0));
  for (int64_t part = 0; part < parts; ++part) {
    const T* src = partial.data() + part * wsize;
    if (!transposed) {
      for (int64_t i = 0; i < wsize; ++i) gw[i] += src[i];
      continue;
    }
    for (int64_t grp = 0; grp < p.groups; ++grp) {
      const T* s = src + grp * g.cout_g * g.k;
      T* d = gw + grp * g.cout_g * g.k;
      for (int64_t o = 0; o < g.cout_g; ++o)
        for (int64_t kk = 0; kk < g.k; ++kk) d[o * g.k + kk] += s[kk * g.cout_g + o];
    }
  }
}

void forward(DType dt, const Conv2dParams& p, const void* x, const void* w, void* y) {
  dispatch_floating(dt, "conv2d", [&](auto tag) {
    using T = decltype(tag);
    forward_typed(p, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y));
  });
}

void backward_input(DType dt, const Conv2dParams& p, const void* gy, const void* w, void* gx) {
  dispatch_floating(dt, "conv2d_backward_input", [&](auto tag) {
    using T = decltype(tag);
    backward_input_typed(p, static_cast<const T*>(gy), static_cast<const T*>(w), static_cast<T*>(gx));
  });
}

void backward_weight(DType dt, const Conv2dParams& p, const void* x, const void* gy, void* gw) {
  dispatch_floating(dt, "conv2d_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    if (p.n == 0) {
      std::fill(static_cast<T*>(gw), static_cast<T*>(gw) + p.cout * (p.cin / p.groups) * p.kh * p.kw, T(0));
      return;
    }
    backward_weight_typed(p, static_cast<const T*>(x), static_cast<const T*>(gy), static_cast<T*>(gw));
  });
}

// The shift_conv2d slots: p must be a 1x1 unpadded conv of one group (the op checks it).
void shift_forward(DType dt, const Conv2dParams& p, int64_t kernel, int64_t dilation, const void* x, const void* w,
                   void* y) {
  const Shift s{kernel, dilation};
  dispatch_floating(dt, "shift_conv2d", [&](auto tag) {
    using T = decltype(tag);
    forward_typed(p, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y), &s);
  });
}

void shift_backward_input(DType dt, const Conv2dParams& p, int64_t kernel, int64_t dilation, const void* gy,
                          const void* w, void* gx) {
  const Shift s{kernel, dilation};
  dispatch_floating(dt, "shift_conv2d_backward_input", [&](auto tag) {
    using T = decltype(tag);
    backward_input_typed(p, static_cast<const T*>(gy), static_cast<const T*>(w), static_cast<T*>(gx), &s);
  });
}

void shift_backward_weight(DType dt, const Conv2dParams& p, int64_t kernel, int64_t dilation, const void* x,
                           const void* gy, void* gw) {
  const Shift s{kernel, dilation};
  dispatch_floating(dt, "shift_conv2d_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    if (p.n == 0) {
      std::fill(static_cast<T*>(gw), static_cast<T*>(gw) + p.cout * p.cin, T(0));
      return;
    }
    backward_weight_typed(p, static_cast<const T*>(x), static_cast<const T*>(gy), static_cast<T*>(gw), &s);
  });
}

}  // namespace

void register_conv2d(Backend& b) {
  b.conv2d_forward = forward;
  b.conv2d_backward_input = backward_input;
  b.conv2d_backward_weight = backward_weight;
  b.shift_conv2d_forward = shift_forward;
  b.shift_conv2d_backward_input = shift_backward_input;
  b.shift_conv2d_backward_weight = shift_backward_weight;
}

}  // namespace sl::cpu
