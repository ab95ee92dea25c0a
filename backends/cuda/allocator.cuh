// The CUDA backend's caching allocator: device blocks are kept on per-size-class free lists and
// handed out again instead of going back to cudaMalloc/cudaFree for every tensor (both synchronise
// or serialise the device and cost tens of microseconds).
//
// Reuse is safe because all device work runs on one stream (common.cuh: stream()): a block freed
// while kernels that read it are still queued is only handed to work queued after them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backends/cuda/cuda_backend.h"

namespace sl::cuda {

class CachingAllocator {
 public:
  // A block of at least nbytes (its size class). On cudaErrorMemoryAllocation, releases every cached
  // block and retries once; then throws sl::Error with the sizes involved.
  void* allocate(size_t nbytes);
  // Returns a block to its free list. Never throws (called from Storage's destructor); pointers
  // this allocator did not hand out are ignored.
  void release(void* ptr) noexcept;
  // cudaFree on every cached (free) block, after waiting for the stream.
  void empty_cache();
  AllocatorStats stats() const;

  // The size class of a request: multiples of 512 B up to 1 MiB, then quarter-octave steps
  // (2^k, 1.25 * 2^k, 1.5 * 2^k, 1.75 * 2^k) above, so at most 25% of a large block is slack.
  static size_t size_class(size_t nbytes);

 private:
  void free_cached_locked();  // mu_ held

  mutable std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;  // size class -> cached blocks
  std::unordered_map<void*, size_t> live_;     // handed-out block -> its size class
  AllocatorStats stats_{};
};

// The process-wide allocator; never destroyed, so tensors released during static destruction still
// find it (the driver reclaims device memory at exit).
CachingAllocator& allocator();

}  // namespace sl::cuda
