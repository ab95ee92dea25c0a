// Single-threaded row-major GEMM on Eigen, for kernels that parallelise at a coarser level (conv
// over images); the registered `gemm` kernel adds oneTBB parallelism on top of it.
#pragma once
#include <cstdint>

namespace sl::cpu {

// C = alpha * op(A) * op(B) + beta * C; A is m x k (k x m if trans_a), B is k x n (n x k if trans_b).
template <class T>
void gemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                 const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Same contract, split into per-thread panels when the product is large enough.
template <class T>
void gemm_parallel(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                   const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

extern template void gemm_serial<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                        const float*, int64_t, float, float*, int64_t);
extern template void gemm_serial<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                         const double*, int64_t, double, double*, int64_t);

extern template void gemm_parallel<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                          const float*, int64_t, float, float*, int64_t);
extern template void gemm_parallel<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                           const double*, int64_t, double, double*, int64_t);

}  // namespace sl::cpu
