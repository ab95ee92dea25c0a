// Layout kernels: permutation of dimensions and strided 2-D block copies (the twins of
// backends/cpu/layout.cpp). Both only move bytes, so they dispatch on the element size, not the dtype.
#include <vector>

#include "backends/cuda/common.cuh"

namespace sl::cuda {

namespace {

constexpr int kMaxPermuteDims = 12;

// The output's sizes and, for each output dimension, the input stride it walks.
struct PermutePlan {
  int ndim = 0;
  int64_t size[kMaxPermuteDims] = {};
  int64_t src_stride[kMaxPermuteDims] = {};
  int64_t numel = 1;
};

// Dimensions that stay adjacent and in order under the permutation are merged first, so common
// cases (e.g. [n, c, hw] -> [c, n, hw]) walk few dimensions.
PermutePlan plan_permute(const Shape& xs, const std::vector<int64_t>& perm) {
  size_t nd = xs.size();
  std::vector<int64_t> in_strides = shape_strides(xs);
  std::vector<int64_t> size, stride;
  for (size_t d = 0; d < nd; ++d) {
    auto src = static_cast<size_t>(perm[d]);
    if (xs[src] == 1) continue;
    if (!size.empty() && stride.back() == in_strides[src] * xs[src]) {
      size.back() *= xs[src];
      stride.back() = in_strides[src];
    } else {
      size.push_back(xs[src]);
      stride.push_back(in_strides[src]);
    }
  }
  SL_CHECK(size.size() <= static_cast<size_t>(kMaxPermuteDims),
           "permute: more than {} non-mergeable dimensions in shape {} on cuda", kMaxPermuteDims, shape_str(xs));
  PermutePlan p;
  p.ndim = static_cast<int>(size.size());
  for (int d = 0; d < p.ndim; ++d) {
    p.size[d] = size[static_cast<size_t>(d)];
    p.src_stride[d] = stride[static_cast<size_t>(d)];
  }
  p.numel = shape_numel(xs);
  return p;
}

template <class T>
__global__ void permute_kernel(const T* x, T* y, PermutePlan p) {
  SL_CUDA_LOOP(i, p.numel) {
    int64_t rem = i, off = 0;
    for (int d = p.ndim - 1; d >= 0; --d) {
      off += (rem % p.size[d]) * p.src_stride[d];
      rem /= p.size[d];
    }
    y[i] = x[off];
  }
}

template <class T>
void permute_typed(const void* x, const PermutePlan& p, void* y) {
  permute_kernel<T><<<blocks_for(p.numel), kThreads, 0, stream()>>>(static_cast<const T*>(x), static_cast<T*>(y), p);
  SL_CUDA_CHECK_LAUNCH();
}

void permute(DType dt, const void* x, const Shape& xs, const std::vector<int64_t>& perm, void* y) {
  PermutePlan p = plan_permute(xs, perm);
  if (p.numel <= 0) return;
  switch (dtype_size(dt)) {
    case 1: return permute_typed<uint8_t>(x, p, y);
    case 4: return permute_typed<uint32_t>(x, p, y);
    case 8: return permute_typed<uint64_t>(x, p, y);
    default: fail("permute: unsupported element size");
  }
}

template <class T>
__global__ void copy_2d_kernel(const T* src, int64_t src_ld, T* dst, int64_t dst_ld, int64_t rows, int64_t cols) {
  SL_CUDA_LOOP(i, rows * cols) {
    int64_t r = i / cols, c = i % cols;
    dst[r * dst_ld + c] = src[r * src_ld + c];
  }
}

template <class T>
void copy_2d_typed(const void* src, int64_t src_ld, void* dst, int64_t dst_ld, int64_t rows, int64_t cols) {
  copy_2d_kernel<T><<<blocks_for(rows * cols), kThreads, 0, stream()>>>(static_cast<const T*>(src), src_ld,
                                                                        static_cast<T*>(dst), dst_ld, rows, cols);
  SL_CUDA_CHECK_LAUNCH();
}

void copy_2d(DType dt, const void* src, int64_t src_ld, void* dst, int64_t dst_ld, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  size_t es = dtype_size(dt);
  if (rows == 1 || (src_ld == cols && dst_ld == cols)) {  // one contiguous block
    SL_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(rows * cols) * es, cudaMemcpyDeviceToDevice, stream()));
    return;
  }
  // cudaMemcpy2D needs pitches >= the row width and below the device's pitch limit (>= 2^31 B on
  // every supported GPU); other layouts take the element kernel.
  constexpr int64_t kPitchLimit = int64_t{1} << 31;
  int64_t es64 = static_cast<int64_t>(es);
  if (src_ld >= cols && dst_ld >= cols && src_ld * es64 < kPitchLimit && dst_ld * es64 < kPitchLimit) {
    SL_CUDA_CHECK(cudaMemcpy2DAsync(dst, static_cast<size_t>(dst_ld) * es, src, static_cast<size_t>(src_ld) * es,
                                    static_cast<size_t>(cols) * es, static_cast<size_t>(rows), cudaMemcpyDeviceToDevice,
                                    stream()));
    return;
  }
  switch (es) {
    case 1: return copy_2d_typed<uint8_t>(src, src_ld, dst, dst_ld, rows, cols);
    case 4: return copy_2d_typed<uint32_t>(src, src_ld, dst, dst_ld, rows, cols);
    case 8: return copy_2d_typed<uint64_t>(src, src_ld, dst, dst_ld, rows, cols);
    default: fail("copy_2d: unsupported element size");
  }
}

}  // namespace

void register_layout(Backend& b) {
  b.permute = permute;
  b.copy_2d = copy_2d;
}

}  // namespace sl::cuda
