// Host memory through oneTBB's scalable allocator: 64-byte aligned, and it caches large blocks so
// per-step activations do not go back to the kernel (mmap + page faults) every time.
#include <tbb/scalable_allocator.h>

#include <cstring>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

namespace {

void* alloc(size_t nbytes) {
  void* p = scalable_aligned_malloc(nbytes, 64);
  SL_CHECK(p != nullptr, "out of host memory allocating {} bytes", nbytes);
  return p;
}

void release(void* p) { scalable_aligned_free(p); }

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
  // Keep blocks of 1 MiB and more cached instead of returning them to the kernel: activations of a
  // large batch (100+ MB at batch 1000) would otherwise be mmapped and page-faulted every step.
  scalable_allocation_mode(TBBMALLOC_SET_HUGE_SIZE_THRESHOLD, 1 << 20);
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
