// The CPU GEMM front end. f32 runs on the per-target register tiles of simd/gemm_kernels.cpp
// (blocked over k and rows, split over threads); f64 (gradient checks, not a hot path) on Eigen.
#pragma once
#include <cstdint>

#include "backends/cpu/simd/kernels.h"

namespace sl::cpu {

// C = alpha * op(A) * op(B) + beta * C, row-major; A is m x k (k x m if trans_a), B is k x n (n x k
// if trans_b). `parallel` splits C over the oneTBB threads; each element is computed the same way
// whatever the split. `packed_a`, when given, is op(A) already packed (pack_a with the same
// trans_a, alpha 1).
template <class T>
void gemm(bool parallel, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc, const PackedA* packed_a = nullptr);

// A (m x k, row pitch lda; with trans, stored k x m) packed for the target in use.
void pack_a(int64_t m, int64_t k, const float* a, int64_t lda, PackedA& out, bool trans = false);

// C[m x n] (+)= packed A * B with B's row p at brow[p]: the implicit-GEMM convolution's product.
// `parallel` splits the columns over the oneTBB threads (the results do not change).
void gemm_packed_rows(bool parallel, const PackedA& a, int64_t n, const float* const* brow, float* c, int64_t ldc,
                      bool accumulate);

extern template void gemm<float>(bool, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                 const float*, int64_t, float, float*, int64_t, const PackedA*);
extern template void gemm<double>(bool, bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                  const double*, int64_t, double, double*, int64_t, const PackedA*);

}  // namespace sl::cpu
