// The CPU backend: each file of backends/cpu/ registers its kernels into the Backend table.
#pragma once
#include "backends/backend.h"
#include "backends/kernel_groups.h"

namespace sl::cpu {

void register_kernels(Backend& b);  // all of the below

SL_KERNEL_GROUPS(SL_DECLARE_KERNEL_GROUP)

}  // namespace sl::cpu
