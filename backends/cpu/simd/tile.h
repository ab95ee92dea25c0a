// Register-tile arithmetic shared by the per-target GEMM kernels: how big a tile of C a target holds
// in registers, and how the rows of A are cut into panels of that height.
#pragma once
#include <cstdint>

// Vector registers of the target being compiled (expanded under each HWY_TARGET): AVX-512 and
// AArch64 have 32, SSE4, AVX2 and the emulated scalar target 16.
#define SL_SIMD_VECTOR_REGISTERS (((HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || HWY_ARCH_ARM_A64) ? 32 : 16)

namespace sl::cpu {

struct TileShape {
  int max_rows;  // rows of the main tile, which is two vectors wide
};

// rows x 2 accumulators + 2 B vectors + 1 broadcast A value fill the register file: 6 rows with 16
// registers, 14 with 32.
constexpr TileShape tile_shape(int registers) { return {(registers - 3) / 2}; }

// Vectors per row for a panel of `rows` rows: as many as the registers allow, 1 to 3.
constexpr int tile_vectors(int registers, int rows) {
  const int nv = (registers - 1) / (rows + 1);
  return nv < 1 ? 1 : (nv > 3 ? 3 : nv);
}

// Rows are cut into the fewest panels of at most max_rows rows, of near-equal heights (16 rows on a
// 14-row target are two panels of 8, not 14 + 2).
constexpr int64_t panel_count(int64_t m, int64_t max_rows) { return (m + max_rows - 1) / max_rows; }
constexpr int64_t panel_row(int64_t m, int64_t panels, int64_t p) { return m * p / panels; }

}  // namespace sl::cpu
