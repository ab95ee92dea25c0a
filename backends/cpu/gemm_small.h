// A GEMM for few output rows: C[m x n] (+)= A[m x k] * B[k x n], row-major f32, m small (the output
// channels of a conv: 16-64), n long (the pixels). Eigen's general kernel loses much of its speed on
// such shapes; this one keeps an 8 x 48 block of C in vector registers and streams B once.
// Serial; every element of C is summed over k in order, so results do not depend on threads.
#pragma once
#include <cstdint>
#include <vector>

namespace sl::cpu {

// Worth using instead of Eigen for this shape (m <= 64 and n at least one vector).
inline bool gemm_small_fits(int64_t m, int64_t n) { return m <= 64 && n >= 16; }

void gemm_small_m(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                  int64_t ldc, bool accumulate);

// A rearranged for the kernel (panels of 8 rows, k-major). Pack once when the same A multiplies many
// Bs: a conv's weights, once per call instead of once per image (packing 64 x 576 weights cost a
// third of a 64-channel 8x8 conv's time).
struct PackedA {
  int64_t m = 0, k = 0;
  std::vector<float> data;
};
void pack_a(int64_t m, int64_t k, const float* a, int64_t lda, PackedA& out);
void gemm_small_m(const PackedA& a, int64_t n, const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);

// The same with row p of B starting at brow[p] (columns contiguous from there): lets a convolution
// point its rows straight into a zero-padded input instead of copying an im2col matrix.
void gemm_small_rows(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* const* brow, float* c,
                     int64_t ldc, bool accumulate);
void gemm_small_rows(const PackedA& a, int64_t n, const float* const* brow, float* c, int64_t ldc, bool accumulate);

// C[m x n] (+)= A[m x k] * B[k x n] with row i of A starting at arow[i] (contiguous along k) and B
// row-major with n <= 64: a conv's weight gradient gW^T = (input rows) * gy^T, where each A row
// points into the zero-padded input and no im2col matrix is built. Vectorised over n.
void gemm_rows_a(int64_t m, int64_t n, int64_t k, const float* const* arow, const float* b, int64_t ldb, float* c,
                 int64_t ldc, bool accumulate);

}  // namespace sl::cpu
