// Device memory, copies, fill and cast: the twins of backends/cpu/memory.cpp. Memory comes from the
// caching allocator; every copy is queued on the backend's stream, and a copy that involves host
// memory returns only when the host buffer may be reused (to host: the data has arrived; from host:
// the pageable source has been consumed, which cudaMemcpyAsync alone does not promise).
#include <cmath>
#include <string>

#include "backends/cuda/common.cuh"

namespace sl::cuda {

cudaStream_t stream() {
  static cudaStream_t s = [] {
    cudaStream_t created = nullptr;
    SL_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
    return created;  // never destroyed: it lives as long as the process, like the allocator
  }();
  return s;
}

namespace {

void* alloc(size_t nbytes) { return allocator().allocate(nbytes); }
void release(void* p) { allocator().release(p); }

void copy(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  SL_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream()));
}
void copy_from_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  SL_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream()));
  SL_CUDA_CHECK(cudaStreamSynchronize(stream()));
}
void copy_to_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  SL_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, stream()));
  SL_CUDA_CHECK(cudaStreamSynchronize(stream()));
}
void synchronize() { SL_CUDA_CHECK(cudaStreamSynchronize(stream())); }

template <class T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  SL_CUDA_LOOP(i, n) { out[i] = value; }
}

template <class T>
void fill_typed(void* out, int64_t n, double value) {
  fill_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<T*>(out), n, static_cast<T>(value));
  SL_CUDA_CHECK_LAUNCH();
}

void fill(DType dt, void* out, int64_t n, double value) {
  if (n <= 0) return;
  if (value == 0 && !std::signbit(value)) {  // +0 is all-zero bits in every dtype
    SL_CUDA_CHECK(cudaMemsetAsync(out, 0, static_cast<size_t>(n) * dtype_size(dt), stream()));
    return;
  }
  dispatch_dtype(dt, "fill", [&](auto tag) { fill_typed<decltype(tag)>(out, n, value); });
}

template <class From, class To>
__global__ void cast_kernel(const From* x, To* y, int64_t n) {
  SL_CUDA_LOOP(i, n) { y[i] = static_cast<To>(x[i]); }
}

template <class From, class To>
void cast_typed(const void* x, void* y, int64_t n) {
  cast_kernel<From, To><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const From*>(x), static_cast<To*>(y), n);
  SL_CUDA_CHECK_LAUNCH();
}

void cast(DType from, const void* x, DType to, void* y, int64_t n) {
  if (n <= 0) return;
  dispatch_dtype_pair(from, to, "cast", [&](auto from_tag, auto to_tag) {
    cast_typed<decltype(from_tag), decltype(to_tag)>(x, y, n);
  });
}

}  // namespace

std::string unavailable_reason() {
  static const std::string reason = [] {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      return std::string("no usable GPU: ") + cudaGetErrorString(err);
    }
    if (count == 0) return std::string("no GPU is visible to the CUDA runtime");
    return std::string();
  }();
  return reason;
}

std::string device_description() {
  SL_CHECK(unavailable_reason().empty(), "CUDA device requested but unavailable: {}", unavailable_reason());
  int dev = 0;
  SL_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  SL_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  return fmt::format("{} (sm_{}{}, {} SMs, {:.1f} GiB)", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
                     static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
}

void register_memory(Backend& b) {
  b.alloc = alloc;
  b.free = release;
  b.copy = copy;
  b.copy_from_host = copy_from_host;
  b.copy_to_host = copy_to_host;
  b.synchronize = synchronize;
  b.fill = fill;
  b.cast = cast;
}

}  // namespace sl::cuda
