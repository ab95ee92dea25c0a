// The kernel families every backend registers into its Backend table, one source file each
// (backends/cpu/<family>.cpp, backends/cuda/<family>.cu), in registration order. A backend declares
// and calls them through this list, so a family added here is registered on every device.
#pragma once

// X(family) for each family: register_<family>(Backend&) fills that family's slots.
#define SL_KERNEL_GROUPS(X) \
  X(memory)                 \
  X(elementwise)            \
  X(layout)                 \
  X(reduce)                 \
  X(gemm)                   \
  X(conv2d)                 \
  X(pool)                   \
  X(batch_norm)             \
  X(softmax)                \
  X(random)                 \
  X(quant)                  \
  X(shift)                  \
  X(optim)

#define SL_DECLARE_KERNEL_GROUP(family) void register_##family(Backend& b);
#define SL_REGISTER_KERNEL_GROUP(family) register_##family(b);
