// Layout kernels: permutation of dimensions and strided 2-D block copies (slicing, concatenation).
#include <cstring>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

namespace {

template <class T>
void permute_typed(const T* x, const Shape& xs, const std::vector<int64_t>& perm, T* y) {
  size_t nd = xs.size();
  std::vector<int64_t> in_strides = shape_strides(xs);
  Shape ys(nd);
  std::vector<int64_t> src_stride(nd);  // input stride of each output dim
  for (size_t d = 0; d < nd; ++d) {
    ys[d] = xs[static_cast<size_t>(perm[d])];
    src_stride[d] = in_strides[static_cast<size_t>(perm[d])];
  }
  int64_t inner = nd ? ys[nd - 1] : 1;
  int64_t rows = inner ? shape_numel(ys) / inner : 0;
  int64_t s_inner = nd ? src_stride[nd - 1] : 1;
  parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(inner, 1)),
               [&](int64_t rb, int64_t re) {
                 for (int64_t r = rb; r < re; ++r) {
                   int64_t rem = r, off = 0;
                   for (size_t d = nd - 1; d-- > 0;) {
                     off += (rem % ys[d]) * src_stride[d];
                     rem /= ys[d];
                   }
                   T* out = y + r * inner;
                   for (int64_t j = 0; j < inner; ++j) out[j] = x[off + j * s_inner];
                 }
               });
}

void permute(DType dt, const void* x, const Shape& xs, const std::vector<int64_t>& perm, void* y) {
  switch (dtype_size(dt)) {
    case 1: return permute_typed(static_cast<const uint8_t*>(x), xs, perm, static_cast<uint8_t*>(y));
    case 4: return permute_typed(static_cast<const uint32_t*>(x), xs, perm, static_cast<uint32_t*>(y));
    case 8: return permute_typed(static_cast<const uint64_t*>(x), xs, perm, static_cast<uint64_t*>(y));
    default: fail("permute: unsupported element size");
  }
}

void copy_2d(DType dt, const void* src, int64_t src_ld, void* dst, int64_t dst_ld, int64_t rows, int64_t cols) {
  size_t es = dtype_size(dt);
  auto* s = static_cast<const char*>(src);
  auto* d = static_cast<char*>(dst);
  int64_t grain = std::max<int64_t>(1, (1 << 18) / std::max<int64_t>(1, cols * static_cast<int64_t>(es)));
  parallel_for(rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      std::memcpy(d + r * dst_ld * static_cast<int64_t>(es), s + r * src_ld * static_cast<int64_t>(es),
                  static_cast<size_t>(cols) * es);
  });
}

}  // namespace

void register_layout(Backend& b) {
  b.permute = permute;
  b.copy_2d = copy_2d;
}

}  // namespace sl::cpu
