// Error checking for every CUDA runtime call, kernel launch and cuBLAS call, with file and line in
// the message. A failed call also clears the runtime's "last error", so the next launch check does
// not report a stale failure (e.g. a recovered out-of-memory) as its own.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/error.h"

#define SL_CUDA_CHECK(call)                                                                               \
  do {                                                                                                    \
    cudaError_t sl_err_ = (call);                                                                         \
    if (sl_err_ != cudaSuccess) {                                                                         \
      (void)cudaGetLastError();                                                                           \
      ::sl::fail("CUDA error at {}:{}: {} ({})", __FILE__, __LINE__, cudaGetErrorString(sl_err_), #call); \
    }                                                                                                     \
  } while (0)

// After a <<<>>> launch: reports configuration errors (bad grid, too many resources) immediately.
// Faults during execution surface at the next synchronising call (copy_to_host, synchronize); run
// with CUDA_LAUNCH_BLOCKING=1 to have them reported by the launch that caused them.
#define SL_CUDA_CHECK_LAUNCH() SL_CUDA_CHECK(cudaGetLastError())

#define SL_CUBLAS_CHECK(call)                                                                                     \
  do {                                                                                                            \
    cublasStatus_t sl_status_ = (call);                                                                           \
    if (sl_status_ != CUBLAS_STATUS_SUCCESS)                                                                      \
      ::sl::fail("cuBLAS error at {}:{}: {} ({})", __FILE__, __LINE__, cublasGetStatusString(sl_status_), #call); \
  } while (0)

namespace sl::cuda {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements; n must be positive (a launch with 0 blocks is an
// error, so callers return early on empty work).
inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 * 16 ? b : 65535 * 16);  // grid-stride loops cover the rest
}

}  // namespace sl::cuda
