// GEMM. f32 runs on the per-target register tiles: A is packed in blocks of kBlockK columns and a
// few hundred rows (they stay in L2 while B's rows stream past), B is read in place through row
// pointers (or from a transposed copy). f64 runs on Eigen. oneTBB splits C into column (or row)
// parts, one per thread; every element of C is the same chain of multiply-adds whatever the split.
#include "backends/cpu/gemm.h"

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

namespace {

constexpr int64_t kBlockK = 256;             // k of a packed block of A
constexpr int64_t kBlockFloats = 48 * 1024;  // a packed block of A: 192 KiB
// Below this many multiply-adds a GEMM runs on one thread: splitting costs more than it saves.
constexpr double kParallelMacs = 1 << 21;

// Cuts [0, extent) into one piece, or one per thread (multiples of `align`) when `parallel` and a
// product of `macs` multiply-adds is worth splitting, and runs piece(start, length) on each.
template <class F>
void for_pieces(bool parallel, double macs, int64_t extent, int64_t align, F piece) {
  const int threads = parallel ? num_threads() : 1;
  if (threads <= 1 || macs < kParallelMacs) return piece(int64_t{0}, extent);
  const int64_t size = std::max(align, ((extent + threads - 1) / threads + align - 1) / align * align);
  tbb::parallel_for(int64_t{0}, (extent + size - 1) / size, [&](int64_t t) {
    const int64_t s = t * size;
    piece(s, std::min(size, extent - s));
  });
}

// Runs part(i0, rows, j0, cols) over parts of C: the longer side cut into pieces that are multiples
// of (row_align, col_align).
template <class F>
void for_parts(bool parallel, int64_t m, int64_t n, int64_t k, int64_t row_align, int64_t col_align, F part) {
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (n >= m)
    for_pieces(parallel, macs, n, col_align, [&](int64_t j0, int64_t cols) { part(int64_t{0}, m, j0, cols); });
  else
    for_pieces(parallel, macs, m, row_align, [&](int64_t i0, int64_t rows) { part(i0, rows, int64_t{0}, n); });
}

// Columns are split in multiples of 6 vectors, which every tile width (1, 2 or 3 vectors) divides.
int64_t column_align(const SimdKernels& simd_k) { return 6 * simd_k.f32_lanes; }

// Rows [0, m) of C over columns given by brow (k row pointers of B, already offset to the part's
// first column), A packed block by block.
void gemm_f32_rows(const SimdKernels& simd_k, bool ta, const float* a, int64_t lda, int64_t m, int64_t n, int64_t k,
                   float alpha, const float* const* brow, float* c, int64_t ldc, bool accumulate) {
  const int64_t mc = std::max<int64_t>(simd_k.gemm_rows, kBlockFloats / kBlockK / simd_k.gemm_rows * simd_k.gemm_rows);
  thread_local PackedA block;  // no oneTBB wait inside, so no other task can reuse it meanwhile
  for (int64_t p0 = 0; p0 < k; p0 += kBlockK) {
    const int64_t kc = std::min(kBlockK, k - p0);
    for (int64_t i0 = 0; i0 < m; i0 += mc) {
      const int64_t rows = std::min(mc, m - i0);
      simd_k.pack_a(rows, kc, ta ? a + p0 * lda + i0 : a + i0 * lda + p0, lda, ta, block);
      if (alpha != 1.0f)
        for (float& v : block.data) v *= alpha;
      simd_k.gemm_packed(block, n, brow + p0, c + i0 * ldc, ldc, accumulate || p0 > 0);
    }
  }
}

void gemm_f32(bool parallel, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const PackedA* packed) {
  if (m == 0 || n == 0) return;
  if (beta != 0.0f && beta != 1.0f) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] *= beta;
    beta = 1.0f;
  }
  const bool accumulate = beta == 1.0f;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  const SimdKernels& simd_k = simd();
  SL_CHECK(!packed || (packed->packer == &simd_k && alpha == 1.0f && packed->from_transposed == ta && packed->m == m &&
                       packed->k == k),
           "gemm: A was packed for another target or shape");
  // B's rows: in place, or rows of a row-major copy of B when B is given transposed (n x k).
  std::vector<float> b_copy;
  if (tb) {
    b_copy.resize(static_cast<size_t>(k * n));
    simd().f32.transpose(b, ldb, n, k, b_copy.data(), n);
    b = b_copy.data();
    ldb = n;
  }
  for_parts(parallel, m, n, k, simd_k.gemm_rows, column_align(simd_k), [&](int64_t i0, int64_t rows, int64_t j0, int64_t cols) {
    std::vector<const float*> brow(static_cast<size_t>(k));
    for (int64_t q = 0; q < k; ++q) brow[static_cast<size_t>(q)] = b + q * ldb + j0;
    float* cp = c + i0 * ldc + j0;
    if (packed && i0 == 0 && rows == m)
      simd_k.gemm_packed(*packed, cols, brow.data(), cp, ldc, accumulate);
    else
      gemm_f32_rows(simd_k, ta, ta ? a + i0 : a + i0 * lda, lda, rows, cols, k, alpha, brow.data(), cp, ldc, accumulate);
  });
}

void gemm_f64(bool parallel, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
              int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstMap = Eigen::Map<const Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  using Map = Eigen::Map<Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  if (m == 0 || n == 0) return;
  for_parts(parallel, m, n, k, 8, 8, [&](int64_t i0, int64_t rows, int64_t j0, int64_t cols) {
    Map C(c + i0 * ldc + j0, rows, cols, Eigen::OuterStride<>(ldc));
    if (beta == 0.0)
      C.setZero();
    else if (beta != 1.0)
      C *= beta;
    if (k == 0) return;
    ConstMap A(ta ? a + i0 : a + i0 * lda, ta ? k : rows, ta ? rows : k, Eigen::OuterStride<>(lda));
    ConstMap B(tb ? b + j0 * ldb : b + j0, tb ? cols : k, tb ? k : cols, Eigen::OuterStride<>(ldb));
    if (!ta && !tb) C.noalias() += alpha * A * B;
    else if (ta && !tb) C.noalias() += alpha * A.transpose() * B;
    else if (!ta && tb) C.noalias() += alpha * A * B.transpose();
    else C.noalias() += alpha * A.transpose() * B.transpose();
  });
}

}  // namespace

template <class T>
void gemm(bool parallel, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc, const PackedA* packed_a) {
  if constexpr (std::is_same_v<T, float>)
    gemm_f32(parallel, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, packed_a);
  else
    gemm_f64(parallel, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm<float>(bool, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t, const PackedA*);
template void gemm<double>(bool, bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t, const PackedA*);

void pack_a(int64_t m, int64_t k, const float* a, int64_t lda, PackedA& out, bool trans) {
  const SimdKernels& simd_k = simd();
  simd_k.pack_a(m, k, a, lda, trans, out);
  out.packer = &simd_k;
  out.from_transposed = trans;
}

void gemm_packed_rows(bool parallel, const PackedA& a, int64_t n, const float* const* brow, float* c, int64_t ldc,
                      bool accumulate) {
  const SimdKernels& simd_k = simd();
  SL_CHECK(a.packer == &simd_k, "gemm: A was packed for another target");
  const double macs = static_cast<double>(a.m) * static_cast<double>(n) * static_cast<double>(a.k);
  for_pieces(parallel, macs, n, column_align(simd_k), [&](int64_t j0, int64_t cols) {
    if (j0 == 0 && cols == n) return simd_k.gemm_packed(a, n, brow, c, ldc, accumulate);
    std::vector<const float*> rows(static_cast<size_t>(a.k));
    for (int64_t q = 0; q < a.k; ++q) rows[static_cast<size_t>(q)] = brow[q] + j0;
    simd_k.gemm_packed(a, cols, rows.data(), c + j0, ldc, accumulate);
  });
}

namespace {

void gemm_kernel(DType dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void* a,
                 int64_t lda, int64_t sa, const void* b, int64_t ldb, int64_t sb, double beta, void* c, int64_t ldc,
                 int64_t sc, int64_t batch) {
  dispatch_floating(dt, "gemm", [&](auto tag) {
    using T = decltype(tag);
    const T* A = static_cast<const T*>(a);
    const T* B = static_cast<const T*>(b);
    T* C = static_cast<T*>(c);
    const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
    if (batch >= 2 * num_threads()) {  // enough independent products: one thread each
      tbb::parallel_for(int64_t{0}, batch, [&](int64_t i) {
        gemm<T>(false, ta, tb, m, n, k, al, A + i * sa, lda, B + i * sb, ldb, be, C + i * sc, ldc);
      });
      return;
    }
    for (int64_t i = 0; i < batch; ++i)
      gemm<T>(true, ta, tb, m, n, k, al, A + i * sa, lda, B + i * sb, ldb, be, C + i * sc, ldc);
  });
}

}  // namespace

void register_gemm(Backend& b) {
  Eigen::initParallel();
  b.gemm = gemm_kernel;
}

}  // namespace sl::cpu
