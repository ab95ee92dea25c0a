// The CPU backend's cache of large host blocks (backends/cpu/block_cache.h), on a counting
// allocator: reuse by exact size, the cap, trimming and the retry after a failed allocation.
#include <cstdlib>
#include <set>

#include "backends/cpu/block_cache.h"
#include "helpers.h"

using sl::cpu::BlockCache;

namespace {

// Counts the calls that reach the underlying allocator; fails while `fail` is set.
struct Counting {
  static inline int allocs = 0, frees = 0;
  static inline bool fail = false;
  static void* allocate(size_t n) {
    if (fail) return nullptr;
    ++allocs;
    return std::malloc(n);
  }
  static void release(void* p) {
    ++frees;
    std::free(p);
  }
  static void reset() { allocs = frees = 0, fail = false; }
};

constexpr size_t kMiB = size_t{1} << 20;

}  // namespace

TEST_CASE("block cache reuses a freed large block of the same size only", "[memory]") {
  Counting::reset();
  BlockCache cache(kMiB, 16 * kMiB, Counting::allocate, Counting::release);
  void* a = cache.alloc(2 * kMiB);
  cache.free(a);
  CHECK(cache.cached_bytes() == 2 * kMiB);
  CHECK(cache.alloc(2 * kMiB) == a);  // the same block back, nothing new from the allocator
  CHECK(Counting::allocs == 1);
  void* b = cache.alloc(2 * kMiB + 64);  // another size: a new block
  CHECK(b != a);
  CHECK(Counting::allocs == 2);
  // Small blocks go straight through.
  void* s = cache.alloc(100);
  cache.free(s);
  CHECK(Counting::frees == 1);
  CHECK(cache.cached_bytes() == 0);
  cache.free(a);
  cache.free(b);
  CHECK(cache.cached_bytes() == 4 * kMiB + 64);
  cache.trim();
  CHECK(cache.cached_bytes() == 0);
  CHECK(Counting::frees == 3);
}

TEST_CASE("block cache keeps at most its cap, giving back the oldest blocks first", "[memory]") {
  Counting::reset();
  BlockCache cache(kMiB, 5 * kMiB, Counting::allocate, Counting::release);
  void* a = cache.alloc(2 * kMiB);
  void* b = cache.alloc(2 * kMiB);
  void* c = cache.alloc(3 * kMiB);
  cache.free(a);
  cache.free(b);
  CHECK(cache.cached_bytes() == 4 * kMiB);
  cache.free(c);  // 7 MiB > 5: a, the oldest, goes back
  CHECK(cache.cached_bytes() == 5 * kMiB);
  CHECK(Counting::frees == 1);
  CHECK(cache.alloc(2 * kMiB) == b);
  CHECK(cache.alloc(3 * kMiB) == c);
  // A block over the cap is never cached.
  void* big = cache.alloc(6 * kMiB);
  cache.free(big);
  CHECK(cache.cached_bytes() == 0);
  CHECK(Counting::frees == 2);
  cache.free(b);
  cache.free(c);
}

TEST_CASE("block cache empties itself and retries when the allocator fails", "[memory]") {
  Counting::reset();
  BlockCache cache(kMiB, 64 * kMiB, Counting::allocate, Counting::release);
  cache.free(cache.alloc(4 * kMiB));
  Counting::fail = true;
  CHECK(cache.alloc(8 * kMiB) == nullptr);  // still failing after the cache is emptied
  CHECK(cache.cached_bytes() == 0);
  CHECK(Counting::frees == 1);
  Counting::fail = false;
  void* p = cache.alloc(8 * kMiB);
  CHECK(p != nullptr);
  cache.free(p);
}

TEST_CASE("tensors of a repeated training step reuse their blocks", "[memory]") {
  // Two identical steps' worth of large tensors: the second gets the first's addresses back.
  auto step = [] {
    std::set<const void*> seen;
    sl::Tensor a = sl::zeros({512, 1024}), b = sl::zeros({256, 1024});
    seen.insert(a.raw_data());
    seen.insert(b.raw_data());
    return seen;
  };
  std::set<const void*> first = step(), second = step();
  CHECK(first == second);
}
