// Max, average and adaptive-average 2-D pooling with their backward passes (the twins of
// backends/cpu/pool.cpp): one thread per output in the forward passes, running the CPU's window
// loops verbatim (same NaN rule and index for max, same summation order and divisor for the
// averages). The backward passes gather instead of scattering: one thread per input pixel visits
// the windows that contain it in the CPU's (oh, ow) order, so overlapping windows need no atomics
// and the sums come out bit-identical to the CPU's.
#include "backends/cuda/common.cuh"

namespace sl::cuda {

namespace {

struct Window {
  int64_t h0, h1, w0, w1;
  double divisor;
};

__device__ Window avg_window(const Pool2dParams& p, int64_t oh, int64_t ow) {
  int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  int64_t h1 = min(h0 + p.kh, p.h + p.ph), w1 = min(w0 + p.kw, p.w + p.pw);
  int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = max(h0, int64_t{0});
  w0 = max(w0, int64_t{0});
  h1 = min(h1, p.h);
  w1 = min(w1, p.w);
  int64_t inside = (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, static_cast<double>(p.count_include_pad ? padded : inside)};
}

// PyTorch's adaptive bins: [floor(i*in/out), ceil((i+1)*in/out)).
__device__ Window adaptive_window(const Pool2dParams& p, int64_t oh, int64_t ow) {
  int64_t h0 = oh * p.h / p.ho, h1 = ((oh + 1) * p.h + p.ho - 1) / p.ho;
  int64_t w0 = ow * p.w / p.wo, w1 = ((ow + 1) * p.w + p.wo - 1) / p.wo;
  return {h0, h1, w0, w1, static_cast<double>((h1 - h0) * (w1 - w0))};
}

// Inclusive range of output rows (or columns) whose window can contain input row `i`.
struct Range {
  int64_t lo, hi;
};

// Strided windows [o*s - pad, o*s - pad + k): o*s <= i + pad and o*s > i + pad - k.
__device__ Range strided_range(int64_t i, int64_t k, int64_t s, int64_t pad, int64_t out) {
  int64_t t = i + pad - k + 1;
  int64_t lo = t <= 0 ? 0 : (t + s - 1) / s;
  return {lo, min((i + pad) / s, out - 1)};
}

// Adaptive bins overlap their neighbours by at most one: a conservative range, checked by the caller.
__device__ Range adaptive_range(int64_t i, int64_t in, int64_t out) {
  return {max(i * out / in - 1, int64_t{0}), min(((i + 1) * out + in - 1) / in, out - 1)};
}

template <class T>
__global__ void max_forward_kernel(Pool2dParams p, const T* x, T* y, int32_t* index) {
  SL_CUDA_LOOP(o, p.n * p.c * p.ho * p.wo) {
    int64_t ow = o % p.wo, oh = o / p.wo % p.ho, pl = o / (p.ho * p.wo);
    const T* xp = x + pl * p.h * p.w;
    int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
    T best = static_cast<T>(-INFINITY);
    int32_t arg = -1;
    for (int64_t ih = max(h0, int64_t{0}); ih < min(h0 + p.kh, p.h); ++ih) {
      for (int64_t iw = max(w0, int64_t{0}); iw < min(w0 + p.kw, p.w); ++iw) {
        T v = xp[ih * p.w + iw];
        // The first maximum wins; the first NaN wins and stays (it propagates).
        if (arg < 0 || (best == best && (v > best || v != v))) {
          best = v;
          arg = static_cast<int32_t>(ih * p.w + iw);
        }
      }
    }
    y[o] = best;
    index[o] = arg;
  }
}

template <class T>
__global__ void max_backward_kernel(Pool2dParams p, const T* gy, const int32_t* index, T* gx) {
  SL_CUDA_LOOP(i, p.n * p.c * p.h * p.w) {
    int64_t iw = i % p.w, ih = i / p.w % p.h, pl = i / (p.h * p.w);
    int64_t self = ih * p.w + iw, base = pl * p.ho * p.wo;
    Range rh = strided_range(ih, p.kh, p.sh, p.ph, p.ho), rw = strided_range(iw, p.kw, p.sw, p.pw, p.wo);
    T acc = 0;
    for (int64_t oh = rh.lo; oh <= rh.hi; ++oh)
      for (int64_t ow = rw.lo; ow <= rw.hi; ++ow)
        if (index[base + oh * p.wo + ow] == self) acc += gy[base + oh * p.wo + ow];
    gx[i] = acc;
  }
}

template <class T, bool Adaptive>
__global__ void avg_forward_kernel(Pool2dParams p, const T* x, T* y) {
  SL_CUDA_LOOP(o, p.n * p.c * p.ho * p.wo) {
    int64_t ow = o % p.wo, oh = o / p.wo % p.ho, pl = o / (p.ho * p.wo);
    const T* xp = x + pl * p.h * p.w;
    Window win = Adaptive ? adaptive_window(p, oh, ow) : avg_window(p, oh, ow);
    T sum = 0;
    for (int64_t ih = win.h0; ih < win.h1; ++ih)
      for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += xp[ih * p.w + iw];
    y[o] = win.divisor > 0 ? static_cast<T>(sum / win.divisor) : T(0);
  }
}

template <class T, bool Adaptive>
__global__ void avg_backward_kernel(Pool2dParams p, const T* gy, T* gx) {
  SL_CUDA_LOOP(i, p.n * p.c * p.h * p.w) {
    int64_t iw = i % p.w, ih = i / p.w % p.h, pl = i / (p.h * p.w);
    const T* gp = gy + pl * p.ho * p.wo;
    Range rh = Adaptive ? adaptive_range(ih, p.h, p.ho) : strided_range(ih, p.kh, p.sh, p.ph, p.ho);
    Range rw = Adaptive ? adaptive_range(iw, p.w, p.wo) : strided_range(iw, p.kw, p.sw, p.pw, p.wo);
    T acc = 0;
    for (int64_t oh = rh.lo; oh <= rh.hi; ++oh) {
      for (int64_t ow = rw.lo; ow <= rw.hi; ++ow) {
        Window win = Adaptive ? adaptive_window(p, oh, ow) : avg_window(p, oh, ow);
        if (win.divisor <= 0 || ih < win.h0 || ih >= win.h1 || iw < win.w0 || iw >= win.w1) continue;
        acc += static_cast<T>(gp[oh * p.wo + ow] / win.divisor);
      }
    }
    gx[i] = acc;
  }
}

int64_t outputs(const Pool2dParams& p) { return p.n * p.c * p.ho * p.wo; }
int64_t inputs(const Pool2dParams& p) { return p.n * p.c * p.h * p.w; }

template <bool Adaptive>
void avg_fwd(DType dt, const Pool2dParams& p, const void* x, void* y) {
  dispatch_floating(dt, Adaptive ? "adaptive_avg_pool2d" : "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    if (outputs(p) <= 0) return;
    avg_forward_kernel<T, Adaptive>
        <<<blocks_for(outputs(p)), kThreads, 0, stream()>>>(p, static_cast<const T*>(x), static_cast<T*>(y));
    SL_CUDA_CHECK_LAUNCH();
  });
}

template <bool Adaptive>
void avg_bwd(DType dt, const Pool2dParams& p, const void* gy, void* gx) {
  dispatch_floating(dt, Adaptive ? "adaptive_avg_pool2d_backward" : "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    if (inputs(p) <= 0) return;
    avg_backward_kernel<T, Adaptive>
        <<<blocks_for(inputs(p)), kThreads, 0, stream()>>>(p, static_cast<const T*>(gy), static_cast<T*>(gx));
    SL_CUDA_CHECK_LAUNCH();
  });
}

void max_pool_fwd(DType dt, const Pool2dParams& p, const void* x, void* y, int32_t* index) {
  dispatch_floating(dt, "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    if (outputs(p) <= 0) return;
    max_forward_kernel<T>
        <<<blocks_for(outputs(p)), kThreads, 0, stream()>>>(p, static_cast<const T*>(x), static_cast<T*>(y), index);
    SL_CUDA_CHECK_LAUNCH();
  });
}

void max_pool_bwd(DType dt, const Pool2dParams& p, const void* gy, const int32_t* index, void* gx) {
  dispatch_floating(dt, "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    if (inputs(p) <= 0) return;
    max_backward_kernel<T>
        <<<blocks_for(inputs(p)), kThreads, 0, stream()>>>(p, static_cast<const T*>(gy), index, static_cast<T*>(gx));
    SL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_pool(Backend& b) {
  b.max_pool2d_forward = max_pool_fwd;
  b.max_pool2d_backward = max_pool_bwd;
  b.avg_pool2d_forward = avg_fwd<false>;
  b.avg_pool2d_backward = avg_bwd<false>;
  b.adaptive_avg_pool2d_forward = avg_fwd<true>;
  b.adaptive_avg_pool2d_backward = avg_bwd<true>;
}

}  // namespace sl::cuda
