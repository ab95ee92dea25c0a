#include "backends/cpu/gemm_small.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
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

// The last n % 16 columns of B, copied into a zero-padded k x 16 block so they run through the
// vector kernel too (a scalar loop here cost more than the rest of a 7x7-pixel conv).
struct TailBlock {
  std::vector<float> b;
  std::vector<const float*> rows;
};

const float* const* tail_rows(int64_t k, const float* const* brow, int64_t j0, int64_t width, TailBlock& t) {
  t.b.assign(static_cast<size_t>(k * kLanes), 0.0f);
  t.rows.resize(static_cast<size_t>(k));
  for (int64_t p = 0; p < k; ++p) {
    std::copy(brow[p] + j0, brow[p] + j0 + width, t.b.data() + p * kLanes);
    t.rows[static_cast<size_t>(p)] = t.b.data() + p * kLanes;
  }
  return t.rows.data();
}

// Adds (or stores) the first `width` columns of a rows x 16 block into C.
void store_tail(const float* block, int rows, int64_t width, float* c, int64_t ldc, bool accumulate) {
  for (int r = 0; r < rows; ++r)
    for (int64_t j = 0; j < width; ++j) c[r * ldc + j] = accumulate ? c[r * ldc + j] + block[r * kLanes + j] : block[r * kLanes + j];
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
  // The last n % 16 columns of B, zero-padded to 16 columns once for all row blocks.
  const int64_t j_tail = n / kLanes * kLanes;
  thread_local std::vector<float> tail_b;
  if (j_tail < n) {
    tail_b.assign(static_cast<size_t>(k * kLanes), 0.0f);
    for (int64_t p = 0; p < k; ++p) std::copy(b + p * ldb + j_tail, b + p * ldb + n, tail_b.data() + p * kLanes);
  }
  for (int64_t i = 0; i < m; i += kMr) {
    int rows = static_cast<int>(std::min<int64_t>(kMr, m - i));
    int64_t j = 0;
    for (; j + 3 * kLanes <= n; j += 3 * kLanes)
      micro_rows_a<3>(k, arow + i, rows, b, ldb, j, c + i * ldc, ldc, accumulate);
    for (; j + 2 * kLanes <= n; j += 2 * kLanes)
      micro_rows_a<2>(k, arow + i, rows, b, ldb, j, c + i * ldc, ldc, accumulate);
    for (; j + kLanes <= n; j += kLanes) micro_rows_a<1>(k, arow + i, rows, b, ldb, j, c + i * ldc, ldc, accumulate);
    if (j < n) {
      float block[kMr * kLanes];
      micro_rows_a<1>(k, arow + i, rows, tail_b.data(), kLanes, 0, block, kLanes, false);
      store_tail(block, rows, n - j, c + i * ldc + j, ldc, accumulate);
    }
  }
}

void pack_a(int64_t m, int64_t k, const float* a, int64_t lda, PackedA& out) {
  const int64_t panels = (m + kMr - 1) / kMr;
  out.m = m;
  out.k = k;
  out.data.assign(static_cast<size_t>(panels * k * kMr), 0.0f);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) out.data[static_cast<size_t>(((i / kMr) * k + p) * kMr + i % kMr)] = a[i * lda + p];
}

void gemm_small_rows(const PackedA& pa, int64_t n, const float* const* brow, float* c, int64_t ldc, bool accumulate) {
  const int64_t m = pa.m, k = pa.k;
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  const int64_t panels = (m + kMr - 1) / kMr;
  const float* packed = pa.data.data();
  // One 16*NV-column block of C (all row panels) at column j of B's rows.
  auto block = [&](auto nv, int64_t j, float* cj, int64_t ldcj, const float* const* rows, bool acc) {
    for (int64_t pn = 0; pn < panels; ++pn)
      micro<decltype(nv)::value>(k, packed + pn * k * kMr, rows, j, cj + pn * kMr * ldcj, ldcj,
                                 static_cast<int>(std::min<int64_t>(kMr, m - pn * kMr)), acc);
  };
  int64_t j = 0;
  for (; j + 3 * kLanes <= n; j += 3 * kLanes) block(std::integral_constant<int, 3>{}, j, c + j, ldc, brow, accumulate);
  for (; j + kLanes <= n; j += kLanes) block(std::integral_constant<int, 1>{}, j, c + j, ldc, brow, accumulate);
  if (j < n) {
    thread_local TailBlock t;
    const float* const* rows = tail_rows(k, brow, j, n - j, t);
    thread_local std::vector<float> tail_c;
    tail_c.resize(static_cast<size_t>(panels * kMr * kLanes));
    block(std::integral_constant<int, 1>{}, 0, tail_c.data(), kLanes, rows, false);
    for (int64_t pn = 0; pn < panels; ++pn)
      store_tail(tail_c.data() + pn * kMr * kLanes, static_cast<int>(std::min<int64_t>(kMr, m - pn * kMr)), n - j,
                 c + pn * kMr * ldc + j, ldc, accumulate);
  }
}

void gemm_small_rows(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* const* brow, float* c,
                     int64_t ldc, bool accumulate) {
  thread_local PackedA packed;
  pack_a(m, k, a, lda, packed);
  gemm_small_rows(packed, n, brow, c, ldc, accumulate);
}

void gemm_small_m(const PackedA& a, int64_t n, const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  thread_local std::vector<const float*> rows;
  rows.resize(static_cast<size_t>(a.k));
  for (int64_t p = 0; p < a.k; ++p) rows[static_cast<size_t>(p)] = b + p * ldb;
  gemm_small_rows(a, n, rows.data(), c, ldc, accumulate);
}

void gemm_small_m(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                  int64_t ldc, bool accumulate) {
  thread_local PackedA packed;
  pack_a(m, k, a, lda, packed);
  gemm_small_m(packed, n, b, ldb, c, ldc, accumulate);
}

}  // namespace sl::cpu
