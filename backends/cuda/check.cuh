// Error checking for every CUDA runtime call and kernel launch, with file and line in the message.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/error.h"

#define SL_CUDA_CHECK(call)                                                                          \
  do {                                                                                              \
    cudaError_t sl_err_ = (call);                                                                   \
    if (sl_err_ != cudaSuccess)                                                                     \
      ::sl::fail("CUDA error at {}:{}: {} ({})", __FILE__, __LINE__, cudaGetErrorString(sl_err_), #call); \
  } while (0)

// After a <<<>>> launch: reports configuration errors immediately.
#define SL_CUDA_CHECK_LAUNCH() SL_CUDA_CHECK(cudaGetLastError())

namespace sl::cuda {

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 * 16 ? b : 65535 * 16);  // grid-stride loops cover the rest
}

}  // namespace sl::cuda
