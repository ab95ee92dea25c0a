// GEMM through cuBLAS (the twin of backends/cpu/gemm.cpp). cuBLAS is column-major; a row-major
// C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, so the call swaps the operands (and m
// with n) and keeps the transpose flags. One handle for the process, created on first use and bound
// to the backend's stream. Math mode is plain FP32 (no TF32), so f32 results stay within the
// parity tolerance of the CPU; with one stream and atomics off (cuBLAS's default) results are
// reproducible run to run on the same GPU.
#include <algorithm>
#include <climits>

#include "backends/cuda/common.cuh"

namespace sl::cuda {

namespace {

cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    SL_CUBLAS_CHECK(cublasCreate(&created));
    SL_CUBLAS_CHECK(cublasSetStream(created, stream()));
    SL_CUBLAS_CHECK(cublasSetMathMode(created, CUBLAS_DEFAULT_MATH));
    SL_CUBLAS_CHECK(cublasSetAtomicsMode(created, CUBLAS_ATOMICS_NOT_ALLOWED));
    return created;  // never destroyed (cublasDestroy at exit would race the runtime's teardown)
  }();
  return h;
}

int to_int(int64_t v, const char* what) {
  SL_CHECK(v >= 0 && v <= INT_MAX, "gemm: {} = {} does not fit cuBLAS's 32-bit sizes", what, v);
  return static_cast<int>(v);
}

// A row-major matrix with one row never reads its leading dimension, but cuBLAS still checks it
// against the column count; give it the smallest valid value.
int64_t fix_ld(int64_t ld, int64_t rows, int64_t cols) {
  return rows <= 1 && ld < cols ? std::max<int64_t>(cols, 1) : ld;
}

template <class T>
__global__ void scale_kernel(T* c, int64_t ldc, int64_t stride_c, int64_t m, int64_t n, int64_t batch, T beta) {
  SL_CUDA_LOOP(i, batch * m * n) {
    int64_t b = i / (m * n), r = i / n % m, col = i % n;
    T* p = c + b * stride_c + r * ldc + col;
    *p = beta == T(0) ? T(0) : *p * beta;  // beta 0 overwrites (NaN-safe), as the CPU
  }
}

void strided_call(float alpha, const float* a, int lda, long long sa, const float* b, int ldb, long long sb, float beta,
                  float* c, int ldc, long long sc, cublasOperation_t opa, cublasOperation_t opb, int m, int n, int k,
                  int batch) {
  SL_CUBLAS_CHECK(
      cublasSgemmStridedBatched(handle(), opb, opa, n, m, k, &alpha, b, ldb, sb, a, lda, sa, &beta, c, ldc, sc, batch));
}

void strided_call(double alpha, const double* a, int lda, long long sa, const double* b, int ldb, long long sb,
                  double beta, double* c, int ldc, long long sc, cublasOperation_t opa, cublasOperation_t opb, int m,
                  int n, int k, int batch) {
  SL_CUBLAS_CHECK(
      cublasDgemmStridedBatched(handle(), opb, opa, n, m, k, &alpha, b, ldb, sb, a, lda, sa, &beta, c, ldc, sc, batch));
}

}  // namespace

template <class T>
void gemm_strided(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, int64_t sa,
                  const T* b, int64_t ldb, int64_t sb, T beta, T* c, int64_t ldc, int64_t sc, int64_t batch) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  if (k <= 0) {  // no products: C = beta C (cuBLAS would do the same, but not with null A/B)
    scale_kernel<T><<<blocks_for(batch * m * n), kThreads, 0, stream()>>>(c, ldc, sc, m, n, batch, beta);
    SL_CUDA_CHECK_LAUNCH();
    return;
  }
  lda = ta ? fix_ld(lda, k, m) : fix_ld(lda, m, k);
  ldb = tb ? fix_ld(ldb, n, k) : fix_ld(ldb, k, n);
  ldc = fix_ld(ldc, m, n);
  if (batch == 1) sa = sb = sc = 0;  // unused; keeps cuBLAS's stride checks quiet
  strided_call(alpha, a, to_int(lda, "lda"), sa, b, to_int(ldb, "ldb"), sb, beta, c, to_int(ldc, "ldc"), sc,
               ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, to_int(m, "m"), to_int(n, "n"),
               to_int(k, "k"), to_int(batch, "batch"));
}

template void gemm_strided<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                                  const float*, int64_t, int64_t, float, float*, int64_t, int64_t, int64_t);
template void gemm_strided<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                                   const double*, int64_t, int64_t, double, double*, int64_t, int64_t, int64_t);

namespace {

void gemm(DType dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void* a, int64_t lda,
          int64_t sa, const void* b, int64_t ldb, int64_t sb, double beta, void* c, int64_t ldc, int64_t sc,
          int64_t batch) {
  dispatch_floating(dt, "gemm", [&](auto tag) {
    using T = decltype(tag);
    gemm_strided<T>(ta, tb, m, n, k, static_cast<T>(alpha), static_cast<const T*>(a), lda, sa, static_cast<const T*>(b),
                    ldb, sb, static_cast<T>(beta), static_cast<T*>(c), ldc, sc, batch);
  });
}

}  // namespace

void register_gemm(Backend& b) { b.gemm = gemm; }

}  // namespace sl::cuda
