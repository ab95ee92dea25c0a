// Quantizer kernels: projection onto a sorted level set (APoT, uniform and any table-driven family),
// on the per-target kernel of simd/pool_quant_kernels.cpp, split over threads.
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/simd/kernels.h"

namespace sl::cpu {

namespace {

void nearest_level(DType dt, const void* x, int64_t n, const double* levels, const int32_t* rank, int64_t nlev,
                   void* value, int32_t* index) {
  SL_CHECK(nlev > 0, "nearest_level: empty level set");
  dispatch_floating(dt, "nearest_level", [&](auto tag) {
    using T = decltype(tag);
    const std::vector<T> lv(levels, levels + nlev);
    const T* xs = static_cast<const T*>(x);
    T* vs = static_cast<T*>(value);
    const auto run = simd().typed<T>().nearest_level;
    parallel_for(n, kElementwiseGrain / 8, [&](int64_t b, int64_t e) {
      run(xs + b, e - b, lv.data(), rank, nlev, vs ? vs + b : nullptr, index ? index + b : nullptr);
    });
  });
}

}  // namespace

void register_quant(Backend& b) { b.nearest_level = nearest_level; }

}  // namespace sl::cpu
