// The deploy kernels' per-target tables, in the order of the shared target list, so the runtime
// follows SHIFTLAB_CPU_TARGET and set_cpu_target exactly as the training kernels do.
#include "backends/cpu/simd/target.h"
#include "deploy/kernels/kernels.h"

namespace sl::deploy {

const DeployKernels& deploy_kernels() {
  static const std::vector<DeployKernels> tables = [] {
    std::vector<DeployKernels> t(cpu::cpu_target_bits().size());
    cpu::build_for_each_target([&](size_t i, const char* name) {
      fill_conv_kernels(t[i]);
      fill_misc_kernels(t[i]);
      fill_winograd_kernels(t[i]);
      t[i].target = name;
    });
    return t;
  }();
  return tables[cpu::cpu_target_index()];
}

}  // namespace sl::deploy
