// The second-level CPU kernel table: one SimdKernels per SIMD target compiled into this binary
// (backends/cpu/simd/*_kernels.cpp, each a Highway foreach_target translation unit), and simd()
// returning the table of the target in use (see target.h). The CPU Backend's kernels call through
// it, so a kernel is written once and runs on AVX-512, AVX2, SSE4, NEON or scalar code.
#pragma once
#include <cstdint>
#include <vector>

#include "backends/params.h"

namespace sl::cpu {

struct SimdKernels;
struct RowSum;

// A (m x k) rearranged for the GEMM kernels of one target: row panels of that target's tile height,
// each k-major (panel rows interleaved per k step). Pack once when the same A multiplies many Bs
// (a conv's weights, once per call rather than once per image).
struct PackedA {
  int64_t m = 0, k = 0;
  int64_t panels = 0;                // panel p holds rows [m * p / panels, m * (p + 1) / panels)
  const SimdKernels* packer = nullptr;  // the table that packed it: panel heights are per target
  bool from_transposed = false;         // packed from A stored transposed (k x m), as gemm's trans_a
  std::vector<float> data;           // panel p starts at row0(p) * k
};

// Kernels with an f32 and an f64 version.
// ApotProjection in T, with the level set's LevelThresholds (nearest_level.h; null when it has none).
template <class T>
struct LevelProjection {
  const T* levels = nullptr;
  const int32_t* tie_rank = nullptr;
  const T* thresholds = nullptr;
  int64_t nlevels = 0;
  T steps = 0;
  bool symmetric = false;
};

// An input plane of a Winograd conv: h x w floats, read with ph rows and pw columns of zeros before.
struct WinogradPlane {
  const float* plane;
  int64_t h, w, ph, pw;
};

// The transforms of Winograd's F(m x m, 3x3) for one m (backends/cpu/winograd.cpp), vectorised along
// tile rows; every target computes the same bits. Tile (ty, tx) covers outputs (m ty.., m tx..) and
// reads the (m + 2)^2 block at row m ty, column m tx of the zero-padded input. Its (m + 2)^2
// transformed values (xi = (m + 2) i + j) are at [xi * ldxi + (ty - ty0) * tw + tx]. Tile rows of 4 or
// 8 tiles that are half or a quarter of a vector are taken 2 or 4 to a vector. The kernels may write or read up to
// f32_lanes - 1 entries past a tile row's end: later rows overwrite them, and the caller leaves that
// much slack after the last row.
struct WinogradKernels {
  // V = B^T d B for tile rows [ty0, ty1) of an input plane, zero-padded in `band`: m (ty1 - ty0) + 2
  // rows of m tw + 2 floats and m f32_lanes + 4 of slack, zero where the plane does not reach (the
  // kernel writes only the plane's columns [pw, pw + w) of each row).
  void (*input)(const WinogradPlane& x, int64_t ty0, int64_t ty1, int64_t tw, float* band, float* v,
                int64_t ldxi) = nullptr;
  // y = A^T M A for tile rows [ty0, ty1) into the ho x wo plane y; pixels outside it are not written.
  void (*output)(const float* m, int64_t ldxi, int64_t ty0, int64_t ty1, int64_t tw, float* y, int64_t ho,
                 int64_t wo) = nullptr;
  // The adjoint of output: G = A dy A^T, dy the m x m block of the ho x wo plane gy (zero outside).
  void (*output_adjoint)(const float* gy, int64_t ho, int64_t wo, int64_t ty0, int64_t ty1, int64_t tw, float* g,
                         int64_t ldxi) = nullptr;
};

template <class T>
struct TypedKernels {
  // ---- Batch norm, per plane; bitwise identical on every target (16 fixed lanes, no FMA).
  // s1 += sum(a - pa), s2 += sum((a - pa) * (b - pb)), summed in 16 lanes folded pairwise.
  void (*bn_sums)(const T* a, T pa, const T* b, T pb, int64_t len, double& s1, double& s2) = nullptr;
  // y = (x - mu) * k + b.
  void (*bn_normalize)(const T* x, int64_t n, T mu, T k, T b, T* y) = nullptr;
  // gx = a * gy + b * (x - mu) + c.
  void (*bn_backward)(const T* gy, const T* x, int64_t n, T a, T b, T mu, T c, T* gx) = nullptr;
  // The same three with ReLU fused (batch_norm_relu_*): y = relu((x - mu) * k + b); and bn_sums and
  // bn_backward of g = (z > 0 ? gy : 0) in place of gy (pa = 0, pb = mu), z = (x - mu) * k + b
  // recomputed from x: with the forward's mu, k and b that is y > 0, without reading y. The same IEEE
  // operations as the unfused passes.
  void (*bn_normalize_relu)(const T* x, int64_t n, T mu, T k, T b, T* y) = nullptr;
  void (*bn_relu_sums)(const T* gy, const T* x, T mu, T k, T b, int64_t len, double& s1, double& s2) = nullptr;
  // Here a (gamma * invstd) is also the forward's k.
  void (*bn_relu_backward)(const T* gy, const T* x, int64_t n, T a, T b, T mu, T c, T beta, T* gx) = nullptr;
  // relu((x - mu) * k + b + res) (batch_norm_add_relu: a ResNet block's bn, shortcut add and ReLU),
  // with the IEEE operations of the three unfused passes.
  void (*bn_normalize_add_relu)(const T* x, int64_t n, T mu, T k, T b, const T* res, T* y) = nullptr;

  // ---- Element-wise, on a range (elementwise.cpp splits the work over threads). Bitwise identical
  // on every target: each element takes the same IEEE operations.
  void (*unary)(UnaryOp op, const T* x, T* y, int64_t n) = nullptr;
  // gx = gy * d op(x)/dx, given x and y = op(x).
  void (*unary_backward)(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, int64_t n) = nullptr;
  // out[i] = a[i * a_step] op b[i * b_step]; steps are 0 (a broadcast scalar) or 1.
  void (*binary)(BinaryOp op, const T* a, int64_t a_step, const T* b, int64_t b_step, T* out, int64_t n) = nullptr;
  void (*clamp)(const T* x, T* y, int64_t n, T lo, T hi) = nullptr;
  // gx = gy where lo <= x <= hi, else 0.
  void (*clamp_backward)(const T* x, const T* gy, T* gx, int64_t n, T lo, T hi) = nullptr;
  // dst[i] = src[2 i] for i < n (im2col of stride-2 convs); reads nothing past src[2 (n - 1)].
  void (*gather_stride2)(const T* src, T* dst, int64_t n) = nullptr;
  // dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols (4 x 4 blocks in registers).
  void (*transpose)(const T* src, int64_t lds, int64_t rows, int64_t cols, T* dst, int64_t ldd) = nullptr;

  // ---- Max pooling, 2x2 window, stride 2, no padding, one plane (w input columns; ho x wo outputs):
  // values and flat input indices; the first maximum wins, the first NaN wins.
  void (*max_pool_2x2)(const T* x, int64_t w, int64_t ho, int64_t wo, T* y, int32_t* index) = nullptr;

  // ---- Optimizer steps on a range (the Backend's sgd_step / adam_step / radam_step contract).
  void (*sgd_step)(const SgdStep& s, T* p, const T* g, T* momentum, int64_t n) = nullptr;
  void (*adam_step)(const AdamStep& s, T* p, const T* g, T* m, T* v, T* vmax, int64_t n) = nullptr;
  void (*radam_step)(const RAdamStep& s, T* p, const T* g, T* m, T* v, T* slow, int64_t n) = nullptr;

  // ---- Fused DeepShift quantizers and fixed-point rounding (the Backend's contracts of the same names).
  void (*round_to_fixed)(const T* x, int64_t n, T delta, T lo, T hi, T* y) = nullptr;
  void (*deepshift_ps_forward)(int64_t n, T lo, T* shift, const T* sign, T* w) = nullptr;
  void (*deepshift_ps_backward)(int64_t n, const T* shift, const T* sign, const T* g, T* gshift) = nullptr;
  void (*deepshift_q_forward)(int64_t n, T lo, T hi, T* w, T* wq) = nullptr;
  void (*s3_forward)(int64_t n, int k, const T* weight, const T* sparse, const T* const* shifts, T scale, T* w) = nullptr;
  void (*s3_backward)(int64_t n, int k, const T* weight, const T* sparse, const T* const* shifts, T scale, const T* g,
                      T* gweight, T* gsparse, T* const* gshifts) = nullptr;
  void (*denseshift_forward)(int64_t n, int k, const T* weight, const T* const* gates, T scale, T* w) = nullptr;
  void (*denseshift_backward)(int64_t n, int k, const T* weight, const T* const* gates, T scale, const T* g,
                              T* gweight, T* const* ggates) = nullptr;
  void (*apot_quantize)(const T* x, int64_t n, T a, T lo, T hi, T scale, const LevelProjection<T>& p,
                        T* out) = nullptr;
  void (*apot_backward)(const T* g, const T* x, int64_t n, T a, T lo, T hi, T scale, const LevelProjection<T>& p,
                        T* gx, RowSum* sum_out, RowSum* sum_ratio) = nullptr;

  // ---- The nearest level of an ascending level set (the Backend's nearest_level contract), with
  // the set's LevelThresholds (nearest_level.h; null or empty when it has none).
  void (*nearest_level)(const T* x, int64_t n, const T* levels, const int32_t* tie_rank, const T* thresholds,
                        int64_t nlevels, T* value, int32_t* index) = nullptr;
};

struct SimdKernels {
  const char* target = "";  // avx512-vnni, avx512, avx2, sse4, neon, scalar
  int f32_lanes = 0;        // floats per vector register
  int vector_registers = 0;
  int gemm_rows = 0;  // largest register tile of the GEMM: gemm_rows x gemm_cols floats of C
  int gemm_cols = 0;

  // ---- GEMM (f32, row-major). Every element of C is one chain of fused multiply-adds over k in
  // order (starting from 0, or from C's value when accumulating), so results do not depend on the
  // tiling, the thread split or the target among those with FMA (AVX2, AVX-512, NEON).
  // A (m x k with row pitch lda; trans: A is stored k x m) packed for this target's tiles.
  void (*pack_a)(int64_t m, int64_t k, const float* a, int64_t lda, bool trans, PackedA& out) = nullptr;
  // C[m x n] (+)= A * B with B's row p at brow[p] (columns contiguous from there): the rows may
  // point anywhere, e.g. into a zero-padded input (an implicit-GEMM convolution).
  void (*gemm_packed)(const PackedA& a, int64_t n, const float* const* brow, float* c, int64_t ldc,
                      bool accumulate) = nullptr;
  // C[m x n] (+)= A * B with A's row i at arow[i] (contiguous along k) and B row-major (k x n):
  // a conv's weight gradient with A rows pointing into the padded input.
  void (*gemm_rows_a)(int64_t m, int64_t n, int64_t k, const float* const* arow, const float* b, int64_t ldb,
                      float* c, int64_t ldc, bool accumulate) = nullptr;

  // ---- Depthwise conv planes (depthwise.cpp): tap t of output (oh, ow) at rows[t][oh * wp + ow] of a
  // padded layout (conv_layout.h). Forward: out[q] = the multiply-add chain over the taps in order
  // of w[t] * rows[t][q], for q in [0, n), n = ho * wp (out has a vector of room past n). Weight
  // gradient: acc[t * 16 + l] += rows[t][oh * wp + ow] * gy[oh * wo + ow] over the pixels with
  // ow mod 16 == l, one chain per lane in row order (16 lanes whatever the vector width).
  void (*depthwise_forward)(const float* const* rows, const float* w, int64_t taps, int64_t n, float* out) = nullptr;
  void (*depthwise_weight)(const float* const* rows, const float* gy, int64_t taps, int64_t ho, int64_t wo, int64_t wp,
                           float* acc) = nullptr;
  // Input gradient: dst[offsets[t] + oh * row_stride + ow] += w[t] * gy[oh * wo + ow], tap by tap and
  // row by row (each product rounded, then the sum: col2im's adds of the GEMM's products).
  void (*depthwise_scatter)(const float* gy, int64_t ho, int64_t wo, const float* w, const int64_t* offsets,
                            int64_t taps, int64_t row_stride, float* dst) = nullptr;
  // Stride-2 phases (conv_layout.h, depthwise.cpp): `rows` rows of n floats, consecutive in src (dst),
  // split into (put back together from) their even columns at phases + (r & 1) * parity_stride +
  // (r >> 1) * row_stride and their odd columns odd_offset further.
  void (*deinterleave2)(const float* src, int64_t rows, int64_t n, float* phases, int64_t parity_stride,
                        int64_t row_stride, int64_t odd_offset) = nullptr;
  void (*interleave2)(const float* phases, int64_t parity_stride, int64_t row_stride, int64_t odd_offset, int64_t rows,
                      int64_t n, float* dst) = nullptr;

  // ---- Winograd transforms: F(2x2, 3x3) and F(4x4, 3x3) (WinogradKernels above).
  WinogradKernels winograd2, winograd4;

  TypedKernels<float> f32;
  TypedKernels<double> f64;
  template <class T>
  const TypedKernels<T>& typed() const {
    if constexpr (sizeof(T) == sizeof(float)) return f32; else return f64;
  }
};

// The table of the target in use.
const SimdKernels& simd();

}  // namespace sl::cpu
