// conv2d on the GPU (the twin of backends/cpu/conv2d.cpp): im2col + cuBLAS strided-batched GEMM
// over a chunk of images at a time (the column buffer stays under kColumnBudget), 1x1 stride-1
// unpadded convs straight on the input, and direct kernels for depthwise convs (one input channel
// per group), where one GEMM per group would be thousands of tiny cuBLAS calls.
//
// Determinism: col2im gathers (each input pixel sums its own column entries in a fixed order)
// instead of scattering with atomics; the weight gradient is one GEMM per group and chunk over the
// chunk's images laid side by side (K = images * pixels), chunks accumulated in order; the
// depthwise weight gradient is a fixed-tree block sum per weight.
#include <algorithm>

#include "backends/cuda/common.cuh"

namespace sl::cuda {

namespace {

constexpr size_t kColumnBudget = size_t{128} << 20;  // bytes of column (and transposed gradient) buffer

struct Geometry {
  int64_t cin_g, cout_g, k, ck, hw_out, hw_in;
  bool pointwise;  // 1x1, stride 1, no padding: the input already is the column matrix
  bool depthwise;  // one input channel per group, several groups: direct kernels
};

Geometry geometry(const Conv2dParams& p) {
  Geometry g;
  g.cin_g = p.cin / p.groups;
  g.cout_g = p.cout / p.groups;
  g.k = g.cin_g * p.kh * p.kw;
  g.ck = p.cin * p.kh * p.kw;
  g.hw_out = p.ho * p.wo;
  g.hw_in = p.h * p.w;
  g.pointwise = p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.ph == 0 && p.pw == 0;
  g.depthwise = g.cin_g == 1 && p.groups > 1;
  return g;
}

// Images per chunk so that `per_image` elements of T per image fit the budget (at least one).
template <class T>
int64_t chunk_images(int64_t n, int64_t per_image) {
  int64_t fit = static_cast<int64_t>(kColumnBudget / sizeof(T)) / std::max<int64_t>(per_image, 1);
  return std::clamp<int64_t>(fit, 1, n);
}

// col[kk * stride_k + img * stride_n + pix] = x[img, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] (0 outside),
// kk = (c*kh + i)*kw + j over all input channels, pix = oh*wo + ow, for the `nb` images at x.
template <class T>
__global__ void im2col_kernel(Conv2dParams p, const T* x, int64_t nb, int64_t stride_k, int64_t stride_n, T* col) {
  int64_t hw = p.ho * p.wo;
  SL_CUDA_LOOP(idx, nb * p.cin * p.kh * p.kw * hw) {
    int64_t pix = idx % hw, t = idx / hw;
    int64_t j = t % p.kw;
    t /= p.kw;
    int64_t i = t % p.kh;
    t /= p.kh;
    int64_t c = t % p.cin, img = t / p.cin;
    int64_t ih = pix / p.wo * p.sh - p.ph + i * p.dh, iw = pix % p.wo * p.sw - p.pw + j * p.dw;
    T v = (ih >= 0 && ih < p.h && iw >= 0 && iw < p.w) ? x[((img * p.cin + c) * p.h + ih) * p.w + iw] : T(0);
    col[((c * p.kh + i) * p.kw + j) * stride_k + img * stride_n + pix] = v;
  }
}

// The adjoint of im2col (image-major columns), gathered: each input pixel sums the column entries
// that read it, in (i, j) order.
template <class T>
__global__ void col2im_kernel(Conv2dParams p, const T* col, int64_t nb, T* x) {
  int64_t hw = p.ho * p.wo, ck = p.cin * p.kh * p.kw;
  SL_CUDA_LOOP(idx, nb * p.cin * p.h * p.w) {
    int64_t iw = idx % p.w, t = idx / p.w;
    int64_t ih = t % p.h;
    t /= p.h;
    int64_t c = t % p.cin, img = t / p.cin;
    const T* cimg = col + img * ck * hw;
    T acc = 0;
    for (int64_t i = 0; i < p.kh; ++i) {
      int64_t th = ih + p.ph - i * p.dh;
      if (th < 0 || th % p.sh != 0 || th / p.sh >= p.ho) continue;
      int64_t oh = th / p.sh;
      for (int64_t j = 0; j < p.kw; ++j) {
        int64_t tw = iw + p.pw - j * p.dw;
        if (tw < 0 || tw % p.sw != 0 || tw / p.sw >= p.wo) continue;
        acc += cimg[((c * p.kh + i) * p.kw + j) * hw + oh * p.wo + tw / p.sw];
      }
    }
    x[idx] = acc;
  }
}

// dst[co][img][pix] = src[img][co][pix] for the nb images at src: the gradient side by side per channel.
template <class T>
__global__ void channel_major_kernel(const T* src, int64_t nb, int64_t channels, int64_t hw, T* dst) {
  SL_CUDA_LOOP(idx, nb * channels * hw) {
    int64_t pix = idx % hw, t = idx / hw;
    int64_t img = t % nb, co = t / nb;
    dst[idx] = src[(img * channels + co) * hw + pix];
  }
}

// ---- depthwise (cin_g == 1): input channel c feeds outputs c*cout_g .. c*cout_g + cout_g - 1 ----

template <class T>
__global__ void depthwise_forward_kernel(Conv2dParams p, int64_t cout_g, const T* x, const T* w, T* y) {
  SL_CUDA_LOOP(idx, p.n * p.cout * p.ho * p.wo) {
    int64_t ow = idx % p.wo, t = idx / p.wo;
    int64_t oh = t % p.ho;
    t /= p.ho;
    int64_t co = t % p.cout, img = t / p.cout;
    const T* xc = x + (img * p.cin + co / cout_g) * p.h * p.w;
    const T* wc = w + co * p.kh * p.kw;
    T acc = 0;
    for (int64_t i = 0; i < p.kh; ++i) {
      int64_t ih = oh * p.sh - p.ph + i * p.dh;
      if (ih < 0 || ih >= p.h) continue;
      for (int64_t j = 0; j < p.kw; ++j) {
        int64_t iw = ow * p.sw - p.pw + j * p.dw;
        if (iw >= 0 && iw < p.w) acc += xc[ih * p.w + iw] * wc[i * p.kw + j];
      }
    }
    y[idx] = acc;
  }
}

template <class T>
__global__ void depthwise_backward_input_kernel(Conv2dParams p, int64_t cout_g, const T* gy, const T* w, T* gx) {
  SL_CUDA_LOOP(idx, p.n * p.cin * p.h * p.w) {
    int64_t iw = idx % p.w, t = idx / p.w;
    int64_t ih = t % p.h;
    t /= p.h;
    int64_t c = t % p.cin, img = t / p.cin;
    T acc = 0;
    for (int64_t m = 0; m < cout_g; ++m) {
      int64_t co = c * cout_g + m;
      const T* gyc = gy + (img * p.cout + co) * p.ho * p.wo;
      const T* wc = w + co * p.kh * p.kw;
      for (int64_t i = 0; i < p.kh; ++i) {
        int64_t th = ih + p.ph - i * p.dh;
        if (th < 0 || th % p.sh != 0 || th / p.sh >= p.ho) continue;
        for (int64_t j = 0; j < p.kw; ++j) {
          int64_t tw = iw + p.pw - j * p.dw;
          if (tw < 0 || tw % p.sw != 0 || tw / p.sw >= p.wo) continue;
          acc += gyc[th / p.sh * p.wo + tw / p.sw] * wc[i * p.kw + j];
        }
      }
    }
    gx[idx] = acc;
  }
}

// Block per weight (co, i, j): sum over images and output pixels of gy * x, in double, fixed tree.
template <class T>
__global__ void depthwise_backward_weight_kernel(Conv2dParams p, int64_t cout_g, const T* x, const T* gy, T* gw) {
  __shared__ double shared[kReduceThreads];
  int64_t hw = p.ho * p.wo, weights = p.cout * p.kh * p.kw;
  for (int64_t wi = blockIdx.x; wi < weights; wi += gridDim.x) {  // uniform across the block
    int64_t j = wi % p.kw, i = wi / p.kw % p.kh, co = wi / (p.kh * p.kw), c = co / cout_g;
    double acc = 0;
    for (int64_t e = threadIdx.x; e < p.n * hw; e += blockDim.x) {
      int64_t img = e / hw, pix = e % hw;
      int64_t ih = pix / p.wo * p.sh - p.ph + i * p.dh, iw = pix % p.wo * p.sw - p.pw + j * p.dw;
      if (ih >= 0 && ih < p.h && iw >= 0 && iw < p.w)
        acc += static_cast<double>(gy[(img * p.cout + co) * hw + pix]) *
               static_cast<double>(x[((img * p.cin + c) * p.h + ih) * p.w + iw]);
    }
    acc = block_sum(acc, shared);
    if (threadIdx.x == 0) gw[wi] = static_cast<T>(acc);
  }
}

// ---- the three entry points ----

template <class T>
void forward_typed(const Conv2dParams& p, const T* x, const T* w, T* y) {
  Geometry g = geometry(p);
  if (g.depthwise) {
    depthwise_forward_kernel<T><<<blocks_for(p.n * p.cout * g.hw_out), kThreads, 0, stream()>>>(p, g.cout_g, x, w, y);
    SL_CUDA_CHECK_LAUNCH();
    return;
  }
  if (g.pointwise) {
    for (int64_t grp = 0; grp < p.groups; ++grp)
      gemm_strided<T>(false, false, g.cout_g, g.hw_out, g.k, T(1), w + grp * g.cout_g * g.k, g.k, 0,
                      x + grp * g.cin_g * g.hw_in, g.hw_in, p.cin * g.hw_in, T(0), y + grp * g.cout_g * g.hw_out,
                      g.hw_out, p.cout * g.hw_out, p.n);
    return;
  }
  int64_t nb_max = chunk_images<T>(p.n, g.ck * g.hw_out);
  Scratch col(static_cast<size_t>(nb_max * g.ck * g.hw_out) * sizeof(T));
  for (int64_t n0 = 0; n0 < p.n; n0 += nb_max) {
    int64_t nb = std::min(nb_max, p.n - n0);
    im2col_kernel<T><<<blocks_for(nb * g.ck * g.hw_out), kThreads, 0, stream()>>>(
        p, x + n0 * p.cin * g.hw_in, nb, g.hw_out, g.ck * g.hw_out, col.as<T>());
    SL_CUDA_CHECK_LAUNCH();
    for (int64_t grp = 0; grp < p.groups; ++grp)
      gemm_strided<T>(false, false, g.cout_g, g.hw_out, g.k, T(1), w + grp * g.cout_g * g.k, g.k, 0,
                      col.as<T>() + grp * g.k * g.hw_out, g.hw_out, g.ck * g.hw_out, T(0),
                      y + (n0 * p.cout + grp * g.cout_g) * g.hw_out, g.hw_out, p.cout * g.hw_out, nb);
  }
}

template <class T>
void backward_input_typed(const Conv2dParams& p, const T* gy, const T* w, T* gx) {
  Geometry g = geometry(p);
  if (g.depthwise) {
    depthwise_backward_input_kernel<T>
        <<<blocks_for(p.n * p.cin * g.hw_in), kThreads, 0, stream()>>>(p, g.cout_g, gy, w, gx);
    SL_CUDA_CHECK_LAUNCH();
    return;
  }
  if (g.pointwise) {
    for (int64_t grp = 0; grp < p.groups; ++grp)
      gemm_strided<T>(true, false, g.k, g.hw_out, g.cout_g, T(1), w + grp * g.cout_g * g.k, g.k, 0,
                      gy + grp * g.cout_g * g.hw_out, g.hw_out, p.cout * g.hw_out, T(0), gx + grp * g.cin_g * g.hw_in,
                      g.hw_in, p.cin * g.hw_in, p.n);
    return;
  }
  int64_t nb_max = chunk_images<T>(p.n, g.ck * g.hw_out);
  Scratch col(static_cast<size_t>(nb_max * g.ck * g.hw_out) * sizeof(T));
  for (int64_t n0 = 0; n0 < p.n; n0 += nb_max) {
    int64_t nb = std::min(nb_max, p.n - n0);
    for (int64_t grp = 0; grp < p.groups; ++grp)
      gemm_strided<T>(true, false, g.k, g.hw_out, g.cout_g, T(1), w + grp * g.cout_g * g.k, g.k, 0,
                      gy + (n0 * p.cout + grp * g.cout_g) * g.hw_out, g.hw_out, p.cout * g.hw_out, T(0),
                      col.as<T>() + grp * g.k * g.hw_out, g.hw_out, g.ck * g.hw_out, nb);
    col2im_kernel<T>
        <<<blocks_for(nb * p.cin * g.hw_in), kThreads, 0, stream()>>>(p, col.as<T>(), nb, gx + n0 * p.cin * g.hw_in);
    SL_CUDA_CHECK_LAUNCH();
  }
}

template <class T>
void backward_weight_typed(const Conv2dParams& p, const T* x, const T* gy, T* gw) {
  Geometry g = geometry(p);
  if (g.depthwise) {
    int64_t weights = p.cout * p.kh * p.kw;
    depthwise_backward_weight_kernel<T><<<static_cast<unsigned>(std::min<int64_t>(weights, 65535 * 16)),
                                          reduce_threads(p.n * g.hw_out), 0, stream()>>>(p, g.cout_g, x, gy, gw);
    SL_CUDA_CHECK_LAUNCH();
    return;
  }
  // Per chunk: columns [ck][nb * hw] and the gradient [cout][nb * hw], then per group
  // gw_g (+)= gy_g col_g^T with K = nb * hw.
  int64_t nb_max = chunk_images<T>(p.n, (g.ck + p.cout) * g.hw_out);
  Scratch col(static_cast<size_t>(nb_max * g.ck * g.hw_out) * sizeof(T));
  Scratch gyt(static_cast<size_t>(nb_max * p.cout * g.hw_out) * sizeof(T));
  for (int64_t n0 = 0; n0 < p.n; n0 += nb_max) {
    int64_t nb = std::min(nb_max, p.n - n0), kk = nb * g.hw_out;
    im2col_kernel<T><<<blocks_for(nb * g.ck * g.hw_out), kThreads, 0, stream()>>>(p, x + n0 * p.cin * g.hw_in, nb, kk,
                                                                                  g.hw_out, col.as<T>());
    SL_CUDA_CHECK_LAUNCH();
    channel_major_kernel<T><<<blocks_for(nb * p.cout * g.hw_out), kThreads, 0, stream()>>>(
        gy + n0 * p.cout * g.hw_out, nb, p.cout, g.hw_out, gyt.as<T>());
    SL_CUDA_CHECK_LAUNCH();
    for (int64_t grp = 0; grp < p.groups; ++grp)
      gemm_strided<T>(false, true, g.cout_g, g.k, kk, T(1), gyt.as<T>() + grp * g.cout_g * kk, kk, 0,
                      col.as<T>() + grp * g.k * kk, kk, 0, n0 == 0 ? T(0) : T(1), gw + grp * g.cout_g * g.k, g.k, 0, 1);
  }
}

void forward(DType dt, const Conv2dParams& p, const void* x, const void* w, void* y) {
  dispatch_floating(dt, "conv2d", [&](auto tag) {
    using T = decltype(tag);
    if (p.n * p.cout * p.ho * p.wo <= 0) return;
    forward_typed(p, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y));
  });
}

void backward_input(DType dt, const Conv2dParams& p, const void* gy, const void* w, void* gx) {
  dispatch_floating(dt, "conv2d_backward_input", [&](auto tag) {
    using T = decltype(tag);
    if (p.n * p.cin * p.h * p.w <= 0) return;
    backward_input_typed(p, static_cast<const T*>(gy), static_cast<const T*>(w), static_cast<T*>(gx));
  });
}

void backward_weight(DType dt, const Conv2dParams& p, const void* x, const void* gy, void* gw) {
  dispatch_floating(dt, "conv2d_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    int64_t wsize = p.cout * (p.cin / p.groups) * p.kh * p.kw;
    if (wsize <= 0) return;
    if (p.n * p.ho * p.wo <= 0) {  // no products: the gradient is zero
      SL_CUDA_CHECK(cudaMemsetAsync(gw, 0, static_cast<size_t>(wsize) * sizeof(T), stream()));
      return;
    }
    backward_weight_typed(p, static_cast<const T*>(x), static_cast<const T*>(gy), static_cast<T*>(gw));
  });
}

}  // namespace

void register_conv2d(Backend& b) {
  b.conv2d_forward = forward;
  b.conv2d_backward_input = backward_input;
  b.conv2d_backward_weight = backward_weight;
}

}  // namespace sl::cuda
