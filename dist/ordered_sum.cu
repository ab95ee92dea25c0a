// The rank-ordered sum of the device all-reduce's received copies (dist/device_allreduce.h).
#include "backends/cuda/check.cuh"
#include "backends/cuda/common.cuh"
#include "dist/device_allreduce.h"

namespace sl::dist {

namespace {

// Additions only, in rank order, as the host path (no multiply, so nothing to contract into an FMA).
__global__ void ordered_sum_kernel(const float* copies, int ranks, int64_t count, float* out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = copies[i];
    for (int r = 1; r < ranks; ++r) s += copies[r * count + i];
    out[i] = s;
  }
}

}  // namespace

void ordered_sum_on_device(const float* copies, int ranks, int64_t count, float* out) {
  if (count == 0) return;
  ordered_sum_kernel<<<cuda::blocks_for(count), cuda::kThreads, 0, cuda::stream()>>>(copies, ranks, count, out);
  SL_CUDA_CHECK_LAUNCH();
}

}  // namespace sl::dist
