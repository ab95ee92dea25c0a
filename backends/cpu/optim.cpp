// Optimizer steps: the per-target loops of simd/optim_kernels.cpp over element-wise chunks, in
// parallel (each element's update is independent, so the thread count does not change it).
#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/simd/kernels.h"

namespace sl::cpu {

namespace {

void sgd_step(DType dt, const SgdStep& s, void* p, const void* g, void* momentum, int64_t n) {
  dispatch_floating(dt, "sgd_step", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().sgd_step;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      run(s, offset<T>(p, b), offset<T>(g, b), offset<T>(momentum, b), e - b);
    });
  });
}

void adam_step(DType dt, const AdamStep& s, void* p, const void* g, void* m, void* v, void* vmax, int64_t n) {
  dispatch_floating(dt, "adam_step", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().adam_step;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      run(s, offset<T>(p, b), offset<T>(g, b), offset<T>(m, b), offset<T>(v, b), offset<T>(vmax, b), e - b);
    });
  });
}

void radam_step(DType dt, const RAdamStep& s, void* p, const void* g, void* m, void* v, void* slow, int64_t n) {
  dispatch_floating(dt, "radam_step", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().radam_step;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      run(s, offset<T>(p, b), offset<T>(g, b), offset<T>(m, b), offset<T>(v, b), offset<T>(slow, b), e - b);
    });
  });
}

}  // namespace

void register_optim(Backend& b) {
  b.sgd_step = sgd_step;
  b.adam_step = adam_step;
  b.radam_step = radam_step;
}

}  // namespace sl::cpu
