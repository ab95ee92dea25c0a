// GEMM: Eigen's blocked kernel does the arithmetic; oneTBB splits C into column (or row) panels,
// one per thread, so the result of each element never depends on the split.
#include "backends/cpu/gemm.h"


#include <Eigen/Core>
#include <algorithm>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

template <class T>
void gemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                 const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstMap = Eigen::Map<const Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  using Map = Eigen::Map<Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  if (m == 0 || n == 0) return;
  Map C(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (beta == T(0)) C.setZero(); else C *= beta;
    return;
  }
  ConstMap A(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  ConstMap B(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  if (beta == T(0)) {
    C.setZero();
  } else if (beta != T(1)) {
    C *= beta;
  }
  if (!trans_a && !trans_b) C.noalias() += alpha * A * B;
  else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose() * B;
  else if (!trans_a && trans_b) C.noalias() += alpha * A * B.transpose();
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

template void gemm_serial<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                 const float*, int64_t, float, float*, int64_t);
template void gemm_serial<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                  const double*, int64_t, double, double*, int64_t);

namespace {

// Below this many multiply-adds a GEMM runs on one thread: splitting costs more than it saves.
constexpr double kParallelMacs = 1 << 21;

}  // namespace

template <class T>
void gemm_parallel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
              int64_t ldb, T beta, T* c, int64_t ldc) {
  int threads = num_threads();
  double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (threads <= 1 || macs < kParallelMacs) {
    gemm_serial(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Split the larger of m and n into `threads` panels aligned to 16 (a SIMD-friendly width).
  bool split_n = n >= m;
  int64_t extent = split_n ? n : m;
  int64_t panel = std::max<int64_t>(16, ((extent + threads - 1) / threads + 15) / 16 * 16);
  int64_t panels = (extent + panel - 1) / panel;
  tbb::parallel_for(int64_t{0}, panels, [&](int64_t p) {
    int64_t s = p * panel, len = std::min(panel, extent - s);
    if (split_n) {
      const T* bp = tb ? b + s * ldb : b + s;
      gemm_serial(ta, tb, m, len, k, alpha, a, lda, bp, ldb, beta, c + s, ldc);
    } else {
      const T* ap = ta ? a + s : a + s * lda;
      gemm_serial(ta, tb, len, n, k, alpha, ap, lda, b, ldb, beta, c + s * ldc, ldc);
    }
  });
}

template void gemm_parallel<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                   const float*, int64_t, float, float*, int64_t);
template void gemm_parallel<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                    const double*, int64_t, double, double*, int64_t);

namespace {

void gemm(DType dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void* a, int64_t lda,
          int64_t sa, const void* b, int64_t ldb, int64_t sb, double beta, void* c, int64_t ldc, int64_t sc,
          int64_t batch) {
  dispatch_floating(dt, "gemm", [&](auto tag) {
    using T = decltype(tag);
    const T* A = static_cast<const T*>(a);
    const T* B = static_cast<const T*>(b);
    T* C = static_cast<T*>(c);
    T al = static_cast<T>(alpha), be = static_cast<T>(beta);
    int threads = num_threads();
    if (batch >= 2 * threads) {  // enough independent products: one thread each
      tbb::parallel_for(int64_t{0}, batch, [&](int64_t i) {
        gemm_serial(ta, tb, m, n, k, al, A + i * sa, lda, B + i * sb, ldb, be, C + i * sc, ldc);
      });
      return;
    }
    for (int64_t i = 0; i < batch; ++i)
      gemm_parallel(ta, tb, m, n, k, al, A + i * sa, lda, B + i * sb, ldb, be, C + i * sc, ldc);
  });
}

}  // namespace

void register_gemm(Backend& b) {
  Eigen::initParallel();
  b.gemm = gemm;
}

}  // namespace sl::cpu
