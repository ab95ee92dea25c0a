// Random fills from the counter-based Philox stream (engine/rng.h): element i reads block
// offset + i/4, lane i%4, so any split of the work gives the same values.
#include <cmath>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"
#include "engine/rng.h"

namespace sl::cpu {

namespace {

constexpr double kTwoPi = 6.283185307179586;

template <class T, class F>
void fill_blocks(T* out, int64_t n, uint64_t seed, uint64_t offset, F from_block) {
  int64_t blocks = (n + 3) / 4;
  parallel_for(blocks, 4096, [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      T v[4];
      from_block(philox(seed, offset + static_cast<uint64_t>(blk)), v);
      for (int64_t l = 0; l < 4 && blk * 4 + l < n; ++l) out[blk * 4 + l] = v[l];
    }
  });
}

void fill_uniform(DType dt, void* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi) {
  dispatch_floating(dt, "rand", [&](auto tag) {
    using T = decltype(tag);
    fill_blocks(static_cast<T*>(out), n, seed, offset, [&](const std::array<uint32_t, 4>& r, T* v) {
      for (int l = 0; l < 4; ++l) {
        // One explicit fused multiply-add, so the value does not depend on whether the compiler
        // contracts (-march=native) or not, and the CUDA twin can reproduce it bit for bit.
        T u = static_cast<T>(std::fma(hi - lo, uniform01(r[static_cast<size_t>(l)]), lo));
        v[l] = u < static_cast<T>(hi) ? u : static_cast<T>(lo);  // float rounding must not reach hi
      }
    });
  });
}

// Box-Muller on lane pairs (0,1) and (2,3).
void fill_normal(DType dt, void* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double stddev) {
  dispatch_floating(dt, "randn", [&](auto tag) {
    using T = decltype(tag);
    fill_blocks(static_cast<T*>(out), n, seed, offset, [&](const std::array<uint32_t, 4>& r, T* v) {
      for (int pair = 0; pair < 2; ++pair) {
        double u1 = (r[static_cast<size_t>(2 * pair)] + 1.0) / 4294967296.0;  // (0, 1]
        double u2 = uniform01(r[static_cast<size_t>(2 * pair + 1)]);
        double rad = std::sqrt(-2.0 * std::log(u1));
        v[2 * pair] = static_cast<T>(mean + stddev * rad * std::cos(kTwoPi * u2));
        v[2 * pair + 1] = static_cast<T>(mean + stddev * rad * std::sin(kTwoPi * u2));
      }
    });
  });
}

}  // namespace

void register_random(Backend& b) {
  b.fill_uniform = fill_uniform;
  b.fill_normal = fill_normal;
}

}  // namespace sl::cpu
