// Device memory and copies. Allocation goes straight to cudaMalloc for now; the caching allocator
// belongs to the full CUDA backend.
#include <string>

#include "backends/cuda/check.cuh"
#include "backends/cuda/cuda_backend.h"

namespace sl::cuda {

namespace {

void* alloc(size_t nbytes) {
  void* p = nullptr;
  SL_CUDA_CHECK(cudaMalloc(&p, nbytes));
  return p;
}

void release(void* p) { cudaFree(p); }  // errors at free time cannot be reported usefully

void copy(void* dst, const void* src, size_t nbytes) {
  SL_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToDevice));
}
void copy_from_host(void* dst, const void* src, size_t nbytes) {
  SL_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
}
void copy_to_host(void* dst, const void* src, size_t nbytes) {
  SL_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
}
void synchronize() { SL_CUDA_CHECK(cudaDeviceSynchronize()); }

template <class T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = value;
}

template <class T>
void fill_typed(void* out, int64_t n, double value) {
  fill_kernel<<<blocks_for(n), kThreads>>>(static_cast<T*>(out), n, static_cast<T>(value));
  SL_CUDA_CHECK_LAUNCH();
}

void fill(DType dt, void* out, int64_t n, double value) {
  switch (dt) {
    case DType::f32: return fill_typed<float>(out, n, value);
    case DType::f64: return fill_typed<double>(out, n, value);
    case DType::i32: return fill_typed<int32_t>(out, n, value);
    case DType::i64: return fill_typed<int64_t>(out, n, value);
    case DType::i8: return fill_typed<int8_t>(out, n, value);
    case DType::u8: return fill_typed<uint8_t>(out, n, value);
    default: fail("fill: invalid dtype");
  }
}

}  // namespace

std::string unavailable_reason() {
  static const std::string reason = [] {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) return std::string("no usable GPU: ") + cudaGetErrorString(err);
    if (count == 0) return std::string("no GPU is visible to the CUDA runtime");
    return std::string();
  }();
  return reason;
}

void register_memory(Backend& b) {
  b.alloc = alloc;
  b.free = release;
  b.copy = copy;
  b.copy_from_host = copy_from_host;
  b.copy_to_host = copy_to_host;
  b.synchronize = synchronize;
  b.fill = fill;
}

void register_kernels(Backend& b) {
  register_memory(b);
  register_elementwise(b);
}

}  // namespace sl::cuda
