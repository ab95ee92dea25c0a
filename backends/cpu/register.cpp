#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/denormals.h"
#include "backends/cpu/simd/kernels.h"

namespace sl::cpu {

void register_kernels(Backend& b) {
  simd();  // picks the SIMD target now, so a bad SHIFTLAB_CPU_TARGET fails before any work
  flush_denormals_in_kernel_threads();
  SL_KERNEL_GROUPS(SL_REGISTER_KERNEL_GROUP)
}

}  // namespace sl::cpu
