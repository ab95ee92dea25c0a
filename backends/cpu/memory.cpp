// Host memory through oneTBB's scalable allocator, 64-byte aligned, with blocks of 1 MiB and more
// reused by exact size (block_cache.h) so per-step activations do not go back to the kernel (mmap
// + page faults) every step.
#include <tbb/scalable_allocator.h>
#include <unistd.h>

#include <cstring>

#include "backends/cpu/block_cache.h"
#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

namespace {

void* tbb_alloc(size_t nbytes) { return scalable_aligned_malloc(nbytes, 64); }
void tbb_free(void* p) { scalable_aligned_free(p); }

// At most a quarter of the machine's memory stays cached: room for a training step's activations;
// past it the oldest freed blocks (sizes that stopped recurring, e.g. another batch size) go first.
size_t max_cached_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  const size_t phys = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : size_t{1} << 32;
  return phys / 4;
}

// Never destroyed: tensors held by other statics are freed after this file's statics would be.
BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache(size_t{1} << 20, max_cached_bytes(), tbb_alloc, tbb_free);
  return *cache;
}

void* alloc(size_t nbytes) {
  void* p = block_cache().alloc(nbytes);
  SL_CHECK(p != nullptr, "out of host memory allocating {} bytes", nbytes);
  return p;
}

void release(void* p) { block_cache().free(p); }

void copy(void* dst, const void* src, size_t nbytes) {
  auto* d = static_cast<char*>(dst);
  auto* s = static_cast<const char*>(src);
  parallel_for(static_cast<int64_t>(nbytes), 1 << 20,
               [&](int64_t b, int64_t e) { std::memcpy(d + b, s + b, static_cast<size_t>(e - b)); });
}

void synchronize() {}

template <class T>
void fill_typed(void* out, int64_t n, double value) {
  T* o = static_cast<T*>(out);
  T v = static_cast<T>(value);
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] = v;
  });
}

void fill(DType dt, void* out, int64_t n, double value) {
  dispatch_dtype(dt, "fill", [&](auto tag) { fill_typed<decltype(tag)>(out, n, value); });
}

template <class From, class To>
void cast_typed(const void* x, void* y, int64_t n) {
  const From* s = static_cast<const From*>(x);
  To* d = static_cast<To*>(y);
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) d[i] = static_cast<To>(s[i]);
  });
}

void cast(DType from, const void* x, DType to, void* y, int64_t n) {
  dispatch_dtype_pair(from, to, "cast", [&](auto from_tag, auto to_tag) {
    cast_typed<decltype(from_tag), decltype(to_tag)>(x, y, n);
  });
}

}  // namespace

void register_memory(Backend& b) {
  b.alloc = alloc;
  b.free = release;
  b.copy = copy;
  b.copy_from_host = copy;
  b.copy_to_host = copy;
  b.synchronize = synchronize;
  b.fill = fill;
  b.cast = cast;
}

}  // namespace sl::cpu
