// Fills the CUDA Backend table: each file of backends/cuda/ registers its kernel family, the list
// shared with the CPU backend (backends/kernel_groups.h).
#include "backends/cuda/cuda_backend.h"

namespace sl::cuda {

void register_kernels(Backend& b) {
  SL_KERNEL_GROUPS(SL_REGISTER_KERNEL_GROUP)
}

}  // namespace sl::cuda
