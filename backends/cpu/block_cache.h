// A cache of large host blocks by exact size. A training step allocates the same activation sizes
// every step; oneTBB's allocator caches large blocks too, but which ones it keeps depends on the
// order the graph frees them, and a change of that order (a tensor released a little earlier) was
// enough to send MobileNetV2's blocks back to the kernel every step: mmap, page faults on first
// touch, 25 ms of alloc and up to 1.3x the step. Reusing a freed block of the same size makes the
// steady state independent of the free order.
#pragma once
#include <cstddef>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace sl::cpu {

class BlockCache {
 public:
  using Allocate = void* (*)(size_t);
  using Release = void (*)(void*);

  // Blocks of at least min_bytes are cached; at most max_cached bytes are kept, the oldest freed
  // ones going back to `release` first.
  BlockCache(size_t min_bytes, size_t max_cached, Allocate allocate, Release release);
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // A block of nbytes (a cached one of exactly that size when there is one), or null when
  // `allocate` fails even after the cache is emptied.
  void* alloc(size_t nbytes);
  void free(void* p);
  // Gives every cached block back.
  void trim();
  size_t cached_bytes() const;

 private:
  void evict_oldest_locked();

  const size_t min_bytes_, max_cached_;
  const Allocate allocate_;
  const Release release_;
  mutable std::mutex mu_;
  using FreeList = std::list<std::pair<void*, size_t>>;
  std::unordered_map<void*, size_t> live_;                        // large blocks handed out: their sizes
  FreeList free_;                                                 // cached blocks, oldest first
  std::unordered_multimap<size_t, FreeList::iterator> by_size_;  // the same blocks by size
  size_t cached_ = 0;
};

}  // namespace sl::cpu
