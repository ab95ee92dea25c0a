// Fills the CUDA Backend table: each file of backends/cuda/ registers its kernel family (the twin
// of backends/cpu/register.cpp, slot for slot).
#include "backends/cuda/cuda_backend.h"

namespace sl::cuda {

void register_kernels(Backend& b) {
  register_memory(b);
  register_elementwise(b);
  register_layout(b);
  register_reduce(b);
  register_gemm(b);
  register_conv2d(b);
  register_pool(b);
  register_batch_norm(b);
  register_softmax(b);
  register_random(b);
  register_quant(b);
  register_shift(b);
  register_optim(b);
}

}  // namespace sl::cuda
