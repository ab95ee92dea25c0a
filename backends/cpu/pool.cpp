// Max, average and adaptive-average 2-D pooling with their backward passes; planes (n, c) run in
// parallel. Window arithmetic follows PyTorch (padding counts toward the average by default).
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/simd/kernels.h"

namespace sl::cpu {

namespace {

int64_t plane_grain(const Pool2dParams& p) {
  return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, p.h * p.w));
}

// A 2x2 window with stride 2 and no padding, every window inside the input (the MNIST nets' pools),
// runs the per-target kernel.
bool max_2x2(const Pool2dParams& p) {
  return p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 && 2 * p.ho <= p.h &&
         2 * p.wo <= p.w;
}

template <class T>
void max_forward(const Pool2dParams& p, const T* x, T* y, int32_t* index) {
  const auto pool_2x2 = simd().typed<T>().max_pool_2x2;
  parallel_for(p.n * p.c, plane_grain(p), [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl) {
      const T* xp = x + pl * p.h * p.w;
      if (max_2x2(p)) {
        pool_2x2(xp, p.w, p.ho, p.wo, y + pl * p.ho * p.wo, index + pl * p.ho * p.wo);
        continue;
      }
      for (int64_t oh = 0; oh < p.ho; ++oh) {
        for (int64_t ow = 0; ow < p.wo; ++ow) {
          int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
          T best = -std::numeric_limits<T>::infinity();
          int32_t arg = -1;
          for (int64_t ih = std::max<int64_t>(h0, 0); ih < std::min(h0 + p.kh, p.h); ++ih) {
            for (int64_t iw = std::max<int64_t>(w0, 0); iw < std::min(w0 + p.kw, p.w); ++iw) {
              T v = xp[ih * p.w + iw];
              // The first maximum wins; the first NaN wins and stays (it propagates).
              if (arg < 0 || (best == best && (v > best || v != v))) {
                best = v;
                arg = static_cast<int32_t>(ih * p.w + iw);
              }
            }
          }
          int64_t o = pl * p.ho * p.wo + oh * p.wo + ow;
          y[o] = best;
          index[o] = arg;
        }
      }
    }
  });
}

template <class T>
void max_backward(const Pool2dParams& p, const T* gy, const int32_t* index, T* gx) {
  parallel_for(p.n * p.c, plane_grain(p), [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl) {
      T* gp = gx + pl * p.h * p.w;
      std::fill(gp, gp + p.h * p.w, T(0));
      for (int64_t o = 0; o < p.ho * p.wo; ++o) {
        int32_t i = index[pl * p.ho * p.wo + o];
        if (i >= 0) gp[i] += gy[pl * p.ho * p.wo + o];
      }
    }
  });
}

struct Window {
  int64_t h0, h1, w0, w1;
  double divisor;
};

Window avg_window(const Pool2dParams& p, int64_t oh, int64_t ow) {
  int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  int64_t h1 = std::min(h0 + p.kh, p.h + p.ph), w1 = std::min(w0 + p.kw, p.w + p.pw);
  int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, p.h);
  w1 = std::min(w1, p.w);
  int64_t inside = (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, static_cast<double>(p.count_include_pad ? padded : inside)};
}

// PyTorch's adaptive bins: [floor(i*in/out), ceil((i+1)*in/out)).
Window adaptive_window(const Pool2dParams& p, int64_t oh, int64_t ow) {
  int64_t h0 = oh * p.h / p.ho, h1 = ((oh + 1) * p.h + p.ho - 1) / p.ho;
  int64_t w0 = ow * p.w / p.wo, w1 = ((ow + 1) * p.w + p.wo - 1) / p.wo;
  return {h0, h1, w0, w1, static_cast<double>((h1 - h0) * (w1 - w0))};
}

// A 1x1 window without padding is a strided subsample (ResNet's option-A shortcut, x[:, :, ::2, ::2]):
// avg_forward/avg_backward then run with `plain` set, without window arithmetic or division.
bool subsample(const Pool2dParams& p) { return p.kh == 1 && p.kw == 1 && p.ph == 0 && p.pw == 0; }

template <class T, class WindowFn>
void avg_forward(const Pool2dParams& p, const T* x, T* y, WindowFn window, bool plain) {
  parallel_for(p.n * p.c, plane_grain(p), [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl) {
      const T* xp = x + pl * p.h * p.w;
      if (plain) {
        for (int64_t oh = 0; oh < p.ho; ++oh)
          for (int64_t ow = 0; ow < p.wo; ++ow) y[(pl * p.ho + oh) * p.wo + ow] = xp[oh * p.sh * p.w + ow * p.sw];
        continue;
      }
      for (int64_t oh = 0; oh < p.ho; ++oh) {
        for (int64_t ow = 0; ow < p.wo; ++ow) {
          Window win = window(p, oh, ow);
          T sum = 0;
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += xp[ih * p.w + iw];
          y[pl * p.ho * p.wo + oh * p.wo + ow] = win.divisor > 0 ? static_cast<T>(sum / win.divisor) : T(0);
        }
      }
    }
  });
}

template <class T, class WindowFn>
void avg_backward(const Pool2dParams& p, const T* gy, T* gx, WindowFn window, bool plain) {
  parallel_for(p.n * p.c, plane_grain(p), [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl) {
      T* gp = gx + pl * p.h * p.w;
      std::fill(gp, gp + p.h * p.w, T(0));
      if (plain) {
        for (int64_t oh = 0; oh < p.ho; ++oh)
          for (int64_t ow = 0; ow < p.wo; ++ow) gp[oh * p.sh * p.w + ow * p.sw] += gy[(pl * p.ho + oh) * p.wo + ow];
        continue;
      }
      for (int64_t oh = 0; oh < p.ho; ++oh) {
        for (int64_t ow = 0; ow < p.wo; ++ow) {
          Window win = window(p, oh, ow);
          if (win.divisor <= 0) continue;
          T g = static_cast<T>(gy[pl * p.ho * p.wo + oh * p.wo + ow] / win.divisor);
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) gp[ih * p.w + iw] += g;
        }
      }
    }
  });
}

#define SL_POOL_KERNEL(fn_name, kernel_name, call)                  \
  void fn_name(DType dt, const Pool2dParams& p, const void* in, void* out) { \
    dispatch_floating(dt, kernel_name, [&](auto tag) {                \
      using T = decltype(tag);                                        \
      call;                                                           \
    });                                                               \
  }

SL_POOL_KERNEL(avg_pool_fwd, "avg_pool2d",
               avg_forward(p, static_cast<const T*>(in), static_cast<T*>(out), avg_window, subsample(p)))
SL_POOL_KERNEL(avg_pool_bwd, "avg_pool2d_backward",
               avg_backward(p, static_cast<const T*>(in), static_cast<T*>(out), avg_window, subsample(p)))
SL_POOL_KERNEL(adaptive_fwd, "adaptive_avg_pool2d",
               avg_forward(p, static_cast<const T*>(in), static_cast<T*>(out), adaptive_window, false))
SL_POOL_KERNEL(adaptive_bwd, "adaptive_avg_pool2d_backward",
               avg_backward(p, static_cast<const T*>(in), static_cast<T*>(out), adaptive_window, false))
#undef SL_POOL_KERNEL

void max_pool_fwd(DType dt, const Pool2dParams& p, const void* x, void* y, int32_t* index) {
  dispatch_floating(dt, "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    max_forward(p, static_cast<const T*>(x), static_cast<T*>(y), index);
  });
}

void max_pool_bwd(DType dt, const Pool2dParams& p, const void* gy, const int32_t* index, void* gx) {
  dispatch_floating(dt, "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    max_backward(p, static_cast<const T*>(gy), index, static_cast<T*>(gx));
  });
}

}  // namespace

void register_pool(Backend& b) {
  b.max_pool2d_forward = max_pool_fwd;
  b.max_pool2d_backward = max_pool_bwd;
  b.avg_pool2d_forward = avg_pool_fwd;
  b.avg_pool2d_backward = avg_pool_bwd;
  b.adaptive_avg_pool2d_forward = adaptive_fwd;
  b.adaptive_avg_pool2d_backward = adaptive_bwd;
}

}  // namespace sl::cpu
