// Random fills from the counter-based Philox4x32-10 stream (the twin of backends/cpu/random.cpp):
// Random123's header-only generator runs in device code, one thread per block of four values,
// element i reading block offset + i/4, lane i%4, keyed by the seed. Uniforms are bit-identical to
// the CPU's (the scale-and-shift is one explicit fused multiply-add on both sides); normals use the
// same Box-Muller pairing and match up to the last bits of log/sqrt/sincos.
#include <Random123/philox.h>

#include "backends/cuda/common.cuh"

namespace sl::cuda {

namespace {

constexpr double kTwoPi = 6.283185307179586;

__device__ r123::Philox4x32::ctr_type philox_block(uint64_t seed, uint64_t counter) {
  r123::Philox4x32 gen;
  r123::Philox4x32::ctr_type c = {{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u}};
  r123::Philox4x32::key_type k = {{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
  return gen(c, k);
}

__device__ double uniform01(uint32_t bits) { return bits * (1.0 / 4294967296.0); }

template <class T>
__global__ void uniform_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi) {
  SL_CUDA_LOOP(blk, (n + 3) / 4) {
    auto r = philox_block(seed, offset + static_cast<uint64_t>(blk));
    for (int l = 0; l < 4 && blk * 4 + l < n; ++l) {
      T u = static_cast<T>(__fma_rn(hi - lo, uniform01(r.v[l]), lo));
      out[blk * 4 + l] = u < static_cast<T>(hi) ? u : static_cast<T>(lo);  // float rounding must not reach hi
    }
  }
}

template <class T>
__global__ void normal_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double stddev) {
  SL_CUDA_LOOP(blk, (n + 3) / 4) {
    auto r = philox_block(seed, offset + static_cast<uint64_t>(blk));
    for (int pair = 0; pair < 2; ++pair) {
      double u1 = (r.v[2 * pair] + 1.0) / 4294967296.0;  // (0, 1]
      double u2 = uniform01(r.v[2 * pair + 1]);
      double rad = sqrt(-2.0 * log(u1));
      int64_t i = blk * 4 + 2 * pair;
      if (i < n) out[i] = static_cast<T>(mean + stddev * rad * cos(kTwoPi * u2));
      if (i + 1 < n) out[i + 1] = static_cast<T>(mean + stddev * rad * sin(kTwoPi * u2));
    }
  }
}

void fill_uniform(DType dt, void* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi) {
  dispatch_floating(dt, "rand", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    uniform_kernel<T>
        <<<blocks_for((n + 3) / 4), kThreads, 0, stream()>>>(static_cast<T*>(out), n, seed, offset, lo, hi);
    SL_CUDA_CHECK_LAUNCH();
  });
}

void fill_normal(DType dt, void* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double stddev) {
  dispatch_floating(dt, "randn", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    normal_kernel<T>
        <<<blocks_for((n + 3) / 4), kThreads, 0, stream()>>>(static_cast<T*>(out), n, seed, offset, mean, stddev);
    SL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_random(Backend& b) {
  b.fill_uniform = fill_uniform;
  b.fill_normal = fill_normal;
}

}  // namespace sl::cuda
