// The training kernels' per-target tables, built once: for every target of cpu_target_bits(),
// Highway is pinned to that target and each kernel file fills its slots. Switching target is then
// an index change, so tests can run every kernel on every target in one process.
#include "backends/cpu/simd/fill.h"
#include "backends/cpu/simd/target.h"

namespace sl::cpu {

namespace {

std::vector<SimdKernels> build_tables() {
  std::vector<SimdKernels> tables(cpu_target_bits().size());
  build_for_each_target([&](size_t i, const char* name) {
    SimdKernels& k = tables[i];
    fill_gemm_kernels(k);
    fill_norm_kernels(k);
    fill_elementwise_kernels(k);
    fill_pool_quant_kernels(k);
    fill_optim_kernels(k);
    fill_shift_quant_kernels(k);
    fill_winograd_kernels(k);
    fill_depthwise_kernels(k);
    k.target = name;
  });
  return tables;
}

}  // namespace

const SimdKernels& simd() {
  static const std::vector<SimdKernels> tables = build_tables();
  return tables[cpu_target_index()];
}

}  // namespace sl::cpu
