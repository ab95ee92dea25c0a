// The caching allocator (allocator.cuh): size-class free lists under one mutex, cudaMalloc only on a
// miss, everything cached released and the request retried once when the device is out of memory.
#include "backends/cuda/allocator.cuh"
#include "backends/cuda/common.cuh"

namespace sl::cuda {

size_t CachingAllocator::size_class(size_t nbytes) {
  constexpr size_t kSmallStep = 512, kLarge = size_t{1} << 20;
  if (nbytes <= kLarge) return nbytes == 0 ? kSmallStep : (nbytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  size_t octave = kLarge;
  while (octave * 2 <= nbytes) octave *= 2;  // the power of two at or below nbytes
  size_t step = octave / 4;
  return (nbytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t nbytes) {
  size_t cls = size_class(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = free_.find(cls);
  if (it != free_.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    live_.emplace(p, cls);
    stats_.cached_bytes -= cls;
    stats_.in_use_bytes += cls;
    ++stats_.cache_hits;
    return p;
  }
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, cls);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // recovered below: must not be reported by the next launch check
    free_cached_locked();
    err = cudaMalloc(&p, cls);
  }
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    fail("CUDA out of memory allocating {} bytes (size class {}; {} bytes in use, cache released) at {}:{}", nbytes,
         cls, stats_.in_use_bytes, __FILE__, __LINE__);
  }
  SL_CUDA_CHECK(err);
  live_.emplace(p, cls);
  stats_.in_use_bytes += cls;
  ++stats_.device_mallocs;
  if (stats_.in_use_bytes + stats_.cached_bytes > stats_.peak_bytes)
    stats_.peak_bytes = stats_.in_use_bytes + stats_.cached_bytes;
  return p;
}

void CachingAllocator::release(void* ptr) noexcept {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;
  size_t cls = it->second;
  live_.erase(it);
  free_[cls].push_back(ptr);
  stats_.in_use_bytes -= cls;
  stats_.cached_bytes += cls;
}

void CachingAllocator::free_cached_locked() {
  // Cached blocks may still be read by queued kernels (they were freed in stream order).
  SL_CUDA_CHECK(cudaStreamSynchronize(stream()));
  for (auto& [cls, blocks] : free_) {
    for (void* p : blocks) SL_CUDA_CHECK(cudaFree(p));
    stats_.cached_bytes -= cls * blocks.size();
  }
  free_.clear();
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  free_cached_locked();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator();  // intentionally leaked, see allocator.cuh
  return *a;
}

AllocatorStats allocator_stats() { return allocator().stats(); }
void empty_cache() { allocator().empty_cache(); }

}  // namespace sl::cuda
