// Which GPU this process uses (backends/backend.h select_cuda_device): the runtime's current device
// is what every kernel, copy and the allocator use, so setting it first is all it takes.
#include "backends/cuda/check.cuh"
#include "backends/cuda/cuda_backend.h"

namespace sl::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // no GPU or no driver: the backend reports why when it is asked for
    return 0;
  }
  return count;
}

void select_device(int local_rank) {
  const int count = device_count();
  if (count > 0) SL_CUDA_CHECK(cudaSetDevice(local_rank % count));
}

}  // namespace sl::cuda
