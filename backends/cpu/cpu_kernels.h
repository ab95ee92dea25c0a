// The CPU backend: each file of backends/cpu/ registers its kernels into the Backend table.
#pragma once
#include "backends/backend.h"

namespace sl::cpu {

void register_kernels(Backend& b);  // all of the below

void register_memory(Backend& b);
void register_elementwise(Backend& b);
void register_layout(Backend& b);
void register_reduce(Backend& b);
void register_gemm(Backend& b);
void register_conv2d(Backend& b);
void register_pool(Backend& b);
void register_batch_norm(Backend& b);
void register_softmax(Backend& b);
void register_random(Backend& b);
void register_quant(Backend& b);
void register_shift(Backend& b);
void register_optim(Backend& b);

}  // namespace sl::cpu
