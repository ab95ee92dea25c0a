#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/denormals.h"
#include "backends/cpu/simd/kernels.h"

namespace sl::cpu {

void register_kernels(Backend& b) {
  simd();  // picks the SIMD target now, so a bad SHIFTLAB_CPU_TARGET fails before any work
  flush_denormals_in_kernel_threads();
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

}  // namespace sl::cpu
