#include "backends/cpu/block_cache.h"

namespace sl::cpu {

BlockCache::BlockCache(size_t min_bytes, size_t max_cached, Allocate allocate, Release release)
    : min_bytes_(min_bytes), max_cached_(max_cached), allocate_(allocate), release_(release) {}

BlockCache::~BlockCache() { trim(); }

void* BlockCache::alloc(size_t nbytes) {
  if (nbytes < min_bytes_) return allocate_(nbytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_size_.find(nbytes);
    if (it != by_size_.end()) {
      void* p = it->second->first;
      free_.erase(it->second);
      by_size_.erase(it);
      cached_ -= nbytes;
      live_.emplace(p, nbytes);
      return p;
    }
  }
  void* p = allocate_(nbytes);
  if (p == nullptr) {  // the cache may hold what is missing
    trim();
    p = allocate_(nbytes);
    if (p == nullptr) return nullptr;
  }
  std::lock_guard<std::mutex> lock(mu_);
  live_.emplace(p, nbytes);
  return p;
}

void BlockCache::free(void* p) {
  if (p == nullptr) return;
  std::unique_lock<std::mutex> lock(mu_);
  auto it = live_.find(p);
  const size_t nbytes = it == live_.end() ? 0 : it->second;  // 0: a small block
  if (it != live_.end()) live_.erase(it);
  if (nbytes == 0 || nbytes > max_cached_) {  // not cached: given back outside the lock
    lock.unlock();
    release_(p);
    return;
  }
  free_.emplace_back(p, nbytes);
  by_size_.emplace(nbytes, std::prev(free_.end()));
  cached_ += nbytes;
  while (cached_ > max_cached_) evict_oldest_locked();
}

void BlockCache::evict_oldest_locked() {
  const auto [p, nbytes] = free_.front();
  auto range = by_size_.equal_range(nbytes);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second == free_.begin()) {
      by_size_.erase(it);
      break;
    }
  free_.pop_front();
  cached_ -= nbytes;
  release_(p);
}

void BlockCache::trim() {
  std::lock_guard<std::mutex> lock(mu_);
  while (!free_.empty()) evict_oldest_locked();
}

size_t BlockCache::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}

}  // namespace sl::cpu
