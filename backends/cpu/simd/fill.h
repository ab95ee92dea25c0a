// Each per-target kernel file fills its part of a SimdKernels table for the target Highway has
// chosen at the moment of the call (tables.cpp calls them once per target).
#pragma once
#include "backends/cpu/simd/kernels.h"

namespace sl::cpu {

void fill_gemm_kernels(SimdKernels& k);
void fill_norm_kernels(SimdKernels& k);
void fill_elementwise_kernels(SimdKernels& k);
void fill_pool_quant_kernels(SimdKernels& k);
void fill_optim_kernels(SimdKernels& k);
void fill_shift_quant_kernels(SimdKernels& k);
void fill_winograd_kernels(SimdKernels& k);
void fill_depthwise_kernels(SimdKernels& k);

}  // namespace sl::cpu
