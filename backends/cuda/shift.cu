// The zero-FLOP spatial shift (the twin of backends/cpu/shift.cpp): one thread per output pixel
// reads one input pixel, or writes 0 past the border. Channel offsets come from the same
// shift2d_offset (backends/params.h) the CPU uses, so outputs are bit-identical.
#include "backends/cuda/common.cuh"

namespace sl::cuda {

namespace {

template <class T>
__global__ void shift_kernel(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kernel, int64_t dilation,
                             int direction, const T* x, T* y) {
  SL_CUDA_LOOP(i, n * c * h * w) {
    int64_t j = i % w, r = i / w % h, plane = i / (h * w);
    ShiftOffset o = shift2d_offset(plane % c, c, kernel, dilation);
    int64_t sr = r + direction * o.dy, sj = j + direction * o.dx;
    y[i] = (sr >= 0 && sr < h && sj >= 0 && sj < w) ? x[plane * h * w + sr * w + sj] : T(0);
  }
}

void shift2d(DType dt, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kernel, int64_t dilation, int direction,
             const void* x, void* y) {
  dispatch_floating(dt, "shift2d", [&](auto tag) {
    using T = decltype(tag);
    int64_t total = n * c * h * w;
    if (total <= 0) return;
    shift_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(n, c, h, w, kernel, dilation, direction,
                                                                  static_cast<const T*>(x), static_cast<T*>(y));
    SL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_shift(Backend& b) { b.shift2d = shift2d; }

}  // namespace sl::cuda
