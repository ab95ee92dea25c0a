// Optimizer steps on the device, the twins of backends/cpu/optim.cpp: one thread per element running
// the rules of backends/optim_rules.h, so parameters and their optimizer state never leave the GPU.
// This file is compiled without FMA contraction and with single-precision flush-to-zero (CMakeLists.txt),
// the CPU kernels' arithmetic: f32 results match the CPU bit for bit; f64 too, except that the GPU keeps
// subnormal f64 inputs the CPU's denormals-are-zero mode reads as 0.
#include "backends/cuda/common.cuh"
#include "backends/optim_rules.h"

namespace sl::cuda {

namespace {

template <class T>
__global__ void sgd_kernel(optim_rules::Sgd<T> update, T* p, const T* g, T* buf, int64_t n) {
  SL_CUDA_LOOP(i, n) {
    if (buf)
      update(p[i], g[i], buf[i]);
    else
      update(p[i], g[i]);
  }
}

template <class T>
__global__ void adam_kernel(optim_rules::Adam<T> update, T* p, const T* g, T* m, T* v, T* vmax, int64_t n) {
  SL_CUDA_LOOP(i, n) {
    if (vmax)
      update(p[i], g[i], m[i], v[i], vmax[i]);
    else
      update(p[i], g[i], m[i], v[i]);
  }
}

template <class T>
__global__ void radam_kernel(optim_rules::RAdam<T> update, T* p, const T* g, T* m, T* v, T* slow, int64_t n) {
  SL_CUDA_LOOP(i, n) {
    if (slow)
      update(p[i], g[i], m[i], v[i], slow[i]);
    else
      update(p[i], g[i], m[i], v[i]);
  }
}

void sgd_step(DType dt, const SgdStep& s, void* p, const void* g, void* momentum, int64_t n) {
  if (n == 0) return;
  dispatch_floating(dt, "sgd_step", [&](auto tag) {
    using T = decltype(tag);
    sgd_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(optim_rules::Sgd<T>(s), static_cast<T*>(p),
                                                           static_cast<const T*>(g), static_cast<T*>(momentum), n);
    SL_CUDA_CHECK_LAUNCH();
  });
}

void adam_step(DType dt, const AdamStep& s, void* p, const void* g, void* m, void* v, void* vmax, int64_t n) {
  if (n == 0) return;
  dispatch_floating(dt, "adam_step", [&](auto tag) {
    using T = decltype(tag);
    adam_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(optim_rules::Adam<T>(s), static_cast<T*>(p),
                                                            static_cast<const T*>(g), static_cast<T*>(m),
                                                            static_cast<T*>(v), static_cast<T*>(vmax), n);
    SL_CUDA_CHECK_LAUNCH();
  });
}

void radam_step(DType dt, const RAdamStep& s, void* p, const void* g, void* m, void* v, void* slow, int64_t n) {
  if (n == 0) return;
  dispatch_floating(dt, "radam_step", [&](auto tag) {
    using T = decltype(tag);
    radam_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(optim_rules::RAdam<T>(s), static_cast<T*>(p),
                                                             static_cast<const T*>(g), static_cast<T*>(m),
                                                             static_cast<T*>(v), static_cast<T*>(slow), n);
    SL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_optim(Backend& b) {
  b.sgd_step = sgd_step;
  b.adam_step = adam_step;
  b.radam_step = radam_step;
}

}  // namespace sl::cuda
