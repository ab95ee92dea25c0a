#include "backends/cpu/gemm_small.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace sl::cpu {

namespace {

// 16 floats: one AVX-512 register with -march=native on this machine; GCC splits it on narrower ISAs.
typedef float v16 __attribute__((vector_size(64)));
constexpr int kMr = 8;  // rows of C per block
constexpr int kLanes = 16;

inline v16 load(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, v16 v) { std::memcpy(p, &v, sizeof v); }

// C[rows x 16*NV] block: packed A (k x kMr, zero-padded rows), B row p starting at brow[p] + j.
template <int NV>
void micro(int64_t k, const float* ap, const float* const* brow, int64_t j0, float* c, int64_t ldc, int rows,
           bool accumulate) {
  v16 sum[kMr][NV];
  for (int r = 0; r < kMr; ++r)
    for (int j = 0; j < NV; ++j) sum[r][j] = v16{};
  for (int64_t p = 0; p < k; ++p) {
    v16 bv[NV];
    for (int j = 0; j < NV; ++j) bv[j] = load(brow[p] + j0 + j * kLanes);
    const float* a = ap + p * kMr;
    for (int r = 0; r < kMr; ++r)
      for (int j = 0; j < NV; ++j) sum[r][j] += bv[j] * a[r];
  }
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < NV; ++j) {
      float* dst = c + r * ldc + j * kLanes;
      store(dst, accumulate ? sum[r][j] + load(dst) : sum[r][j]);
    }
}

// The last n % 16 columns, plainly.
void tail(int64_t m, int64_t n0, int64_t n, int64_t k, const float* a, int64_t lda, const float* const* brow,
          float* c, int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n0; j < n; ++j) {
      float s = 0;
      for (int64_t p = 0; p < k; ++p) s += a[i * lda + p] * brow[p][j];
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s;
    }
}

// C[rows x 16*NV] block with A rows given by pointers (broadcast straight from them).
template <int NV>
void micro_rows_a(int64_t k, const float* const* arow, int rows, const float* b, int64_t ldb, int64_t j0, float* c,
                  int64_t ldc, bool accumulate) {
  const float* a[kMr];
  for (int r = 0; r < kMr; ++r) a[r] = arow[r < rows ? r : 0];
  v16 sum[kMr][NV];
  for (int r = 0; r < kMr; ++r)
    for (int j = 0; j < NV; ++j) sum[r][j] = v16{};
  for (int64_t p = 0; p < k; ++p) {
    v16 bv[NV];
    for (int j = 0; j < NV; ++j) bv[j] = load(b + p * ldb + j0 + j * kLanes);
    for (int r = 0; r < kMr; ++r)
      for (int j = 0; j < NV; ++j) sum[r][j] += bv[j] * a[r][p];
  }
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < NV; ++j) {
      float* dst = c + r * ldc + j0 + j * kLanes;
      store(dst, accumulate ? sum[r][j] + load(dst) : sum[r][j]);
    }
}

}  // namespace

void gemm_rows_a(int64_t m, int64_t n, int64_t k, const float* const* arow, const float* b, int64_t ldb, float* c,
                 int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < m; i += kMr) {
    int rows = static_cast<int>(std::min<int64_t>(kMr, m - i));
    int64_t j = 0;
    for (; j + 3 * kLanes <= n; j += 3 * kLanes)
      micro_rows_a<3>(k, arow + i, rows, b, ldb, j, c + i * ldc, ldc, accumulate);
    for (; j + 2 * kLanes <= n; j += 2 * kLanes)
      micro_rows_a<2>(k, arow + i, rows, b, ldb, j, c + i * ldc, ldc, accumulate);
    for (; j + kLanes <= n; j += kLanes) micro_rows_a<1>(k, arow + i, rows, b, ldb, j, c + i * ldc, ldc, accumulate);
    for (; j < n; ++j)  // scalar tail
      for (int r = 0; r < rows; ++r) {
        float s = 0;
        for (int64_t p = 0; p < k; ++p) s += arow[i + r][p] * b[p * ldb + j];
        float* dst = c + (i + r) * ldc + j;
        *dst = accumulate ? *dst + s : s;
      }
  }
}

void gemm_small_rows(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* const* brow, float* c,
                     int64_t ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  // A in panels of kMr rows, k-major, so each step broadcasts kMr consecutive floats.
  int64_t panels = (m + kMr - 1) / kMr;
  thread_local std::vector<float> packed;
  packed.assign(static_cast<size_t>(panels * k * kMr), 0.0f);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) packed[static_cast<size_t>(((i / kMr) * k + p) * kMr + i % kMr)] = a[i * lda + p];
  int64_t j = 0;
  for (; j + 3 * kLanes <= n; j += 3 * kLanes)
    for (int64_t pn = 0; pn < panels; ++pn)
      micro<3>(k, packed.data() + pn * k * kMr, brow, j, c + pn * kMr * ldc + j, ldc,
               static_cast<int>(std::min<int64_t>(kMr, m - pn * kMr)), accumulate);
  for (; j + kLanes <= n; j += kLanes)
    for (int64_t pn = 0; pn < panels; ++pn)
      micro<1>(k, packed.data() + pn * k * kMr, brow, j, c + pn * kMr * ldc + j, ldc,
               static_cast<int>(std::min<int64_t>(kMr, m - pn * kMr)), accumulate);
  if (j < n) tail(m, j, n, k, a, lda, brow, c, ldc, accumulate);
}

void gemm_small_m(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                  int64_t ldc, bool accumulate) {
  thread_local std::vector<const float*> rows;
  rows.resize(static_cast<size_t>(k));
  for (int64_t p = 0; p < k; ++p) rows[static_cast<size_t>(p)] = b + p * ldb;
  gemm_small_rows(m, n, k, a, lda, rows.data(), c, ldc, accumulate);
}

}  // namespace sl::cpu
