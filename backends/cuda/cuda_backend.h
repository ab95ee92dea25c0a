// The CUDA backend's entry points, callable from plain C++ (backends/backend.cpp, tools, tests).
// Only declared when shiftlab is built with CUDA (SHIFTLAB_WITH_CUDA).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "backends/backend.h"
#include "backends/kernel_groups.h"

namespace sl::cuda {

void register_kernels(Backend& b);
// Empty when a GPU is usable; otherwise why not (the CUDA runtime's own message).
std::string unavailable_reason();
// "NVIDIA A100-SXM4-40GB (sm_80, 108 SMs, 40.0 GiB)" for the device in use.
std::string device_description();
// Makes GPU local_rank % device_count() this process's device (backends/backend.h select_cuda_device).
void select_device(int local_rank);
int device_count();  // 0 when the runtime finds none

// Counters of the caching allocator (backends/cuda/allocator.cuh).
struct AllocatorStats {
  size_t in_use_bytes = 0;     // handed out (size classes, not requests)
  size_t cached_bytes = 0;     // on the free lists
  size_t peak_bytes = 0;       // max of in_use + cached
  int64_t device_mallocs = 0;  // cudaMalloc calls that succeeded
  int64_t cache_hits = 0;      // allocations served from a free list
};
AllocatorStats allocator_stats();
// Returns every cached block to the driver (cudaFree), after waiting for queued work.
void empty_cache();

// Per-file registration (backends/cuda/*.cu).
SL_KERNEL_GROUPS(SL_DECLARE_KERNEL_GROUP)

}  // namespace sl::cuda
