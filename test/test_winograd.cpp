// Winograd F(4x4, 3x3) and F(2x2, 3x3) convs (backends/cpu/winograd.h): where they apply, their forward
// pass and both gradients against the double reference loops and against the direct path, on every
// CPU target, and their bits across FMA targets and thread counts.
#include <cmath>

#include "backends/cpu/simd/target.h"
#include "backends/cpu/winograd.h"
#include "engine/threads.h"
#include "helpers.h"
#include "reference_conv.h"

using namespace sl;
using sl::test::ConvCase;
using sl::test::conv_reference;
using sl::test::ConvRun;
using sl::test::randf;
using sl::test::run_conv;

namespace {

Conv2dParams params_of(const ConvCase& c) {
  return {c.n, c.cin, c.h, c.w, c.cout, c.k, c.k, c.stride, c.stride, c.pad, c.pad, c.dil, c.dil, c.groups,
          sl::test::conv_out_size(c, c.h), sl::test::conv_out_size(c, c.w)};
}

struct Reference {
  std::vector<double> y, gx, gw;        // the exact sums
  std::vector<double> ay, agx, agw;     // the sums of the terms' magnitudes: the scale of f32 rounding
};

Reference reference(const ConvCase& c) {
  const Conv2dParams p = params_of(c);
  // The inputs run_conv draws.
  std::vector<float> x = randf({c.n, c.cin, c.h, c.w}, 1).to_vector<float>();
  std::vector<float> w = randf({c.cout, c.cin, 3, 3}, 2).to_vector<float>();
  std::vector<float> gy = randf({c.n, c.cout, p.ho, p.wo}, 3).to_vector<float>();
  Reference r;
  conv_reference(c, x, w, gy, p.ho, p.wo, r.y, r.gx, r.gw);
  for (std::vector<float>* v : {&x, &w, &gy})
    for (float& e : *v) e = std::fabs(e);
  conv_reference(c, x, w, gy, p.ho, p.wo, r.ay, r.agx, r.agw);
  return r;
}

// Each element within 1e-5 of its terms' magnitude (f32 sums of a few hundred terms round at about
// 1e-7 of it; a wrong transform or tile is off by the order of the value itself).
void check_close(const char* what, const std::vector<float>& got, const std::vector<double>& want,
                 const std::vector<double>& scale) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(what << " element " << i << ": " << got[i] << " vs " << want[i]);
    REQUIRE(std::fabs(got[i] - want[i]) <= 1e-5 * scale[i] + 1e-6);
  }
}

// Both tile sizes (outputs narrower and wider than 32), odd and even sizes (tiles cut by the edge),
// padding 0 to 2, tile rows narrower and wider than a vector, one tile, bands of one large image per
// chunk, several small images per chunk with a short last chunk, channel counts off the GEMM tiles.
// Rows of 4 and 8 tiles, which AVX2 and AVX-512 join 2 or 4 to a vector: CIFAR's 8-, 16- and 32-wide
// maps, widths cut inside the last tile (15, 7), tile-row counts that leave a row or more over (7
// rows of 2x2 tiles, 5 rows of 4x4 tiles whose last is cut at 1 output row).
const std::vector<ConvCase> kCases = {
    {3, 8, 9, 8, 8, 3, 1, 1, 1, 1},     {2, 13, 7, 11, 9, 3, 1, 0, 1, 1},  {2, 8, 6, 5, 12, 3, 1, 2, 1, 1},
    {1, 8, 2, 2, 8, 3, 1, 1, 1, 1},     {1, 9, 3, 41, 10, 3, 1, 1, 1, 1},  {1, 8, 64, 60, 8, 3, 1, 1, 1, 1},
    {5, 64, 8, 8, 64, 3, 1, 1, 1, 1},   {3, 16, 28, 28, 16, 3, 1, 1, 1, 1}, {2, 32, 7, 7, 40, 3, 1, 1, 1, 1},
    {2, 8, 32, 32, 8, 3, 1, 1, 1, 1},   {3, 16, 16, 16, 8, 3, 1, 1, 1, 1}, {2, 8, 15, 15, 8, 3, 1, 1, 1, 1},
    {2, 8, 17, 32, 9, 3, 1, 1, 1, 1},   {2, 8, 14, 7, 8, 3, 1, 1, 1, 1},  {1, 8, 18, 18, 8, 3, 1, 0, 1, 1}};

// Chunks of transforms small enough to cut every case into bands or images, the machine's (from its
// L2), and large enough to hold most cases whole: the paths, and the results, must not depend on it.
const std::vector<int64_t> kChunkFloats = {2048, 0, 256 * 1024};

struct ScopedChunk {
  explicit ScopedChunk(int64_t floats) : previous(cpu::set_winograd_chunk_floats(floats)) {}
  ~ScopedChunk() { cpu::set_winograd_chunk_floats(previous); }
  int64_t previous;
};

}  // namespace

TEST_CASE("Winograd applies to f32 3x3 stride-1 convs of 8+ channels each way, and only there", "[winograd][conv]") {
  const ConvCase body{2, 16, 8, 8, 16, 3, 1, 1, 1, 1};
  CHECK(cpu::winograd_applies(params_of(body)));
  for (ConvCase c : {ConvCase{2, 3, 8, 8, 16, 3, 1, 1, 1, 1}, ConvCase{2, 16, 8, 8, 4, 3, 1, 1, 1, 1},
                     ConvCase{2, 16, 8, 8, 16, 3, 2, 1, 1, 1}, ConvCase{2, 16, 8, 8, 16, 3, 1, 2, 2, 1},
                     ConvCase{2, 16, 8, 8, 16, 3, 1, 1, 1, 2}, ConvCase{2, 16, 8, 8, 16, 5, 1, 2, 1, 1},
                     ConvCase{2, 16, 8, 8, 16, 1, 1, 0, 1, 1}, ConvCase{2, 16, 1, 8, 16, 3, 1, 0, 1, 1}}) {
    INFO("cin " << c.cin << " cout " << c.cout << " k " << c.k << " stride " << c.stride << " dilation " << c.dil
                << " groups " << c.groups << " h " << c.h);
    CHECK_FALSE(cpu::winograd_applies(params_of(c)));
  }
  // F(4x4, 3x3) from 32 output columns (whatever the target), F(2x2, 3x3) below.
  CHECK(cpu::winograd_tile_size(params_of(body)) == 2);
  CHECK(cpu::winograd_tile_size(params_of({2, 16, 8, 31, 16, 3, 1, 1, 1, 1})) == 2);
  CHECK(cpu::winograd_tile_size(params_of({2, 16, 8, 32, 16, 3, 1, 1, 1, 1})) == 4);
  cpu::ScopedWinograd off(false);
  CHECK_FALSE(cpu::winograd_applies(params_of(body)));
}

TEST_CASE("Winograd convs and their gradients match reference loops on every CPU target", "[winograd][conv]") {
  int tile_sizes = 0;  // bit m set: F(m x m, 3x3) tested
  for (const ConvCase& c : kCases) {
    REQUIRE(cpu::winograd_applies(params_of(c)));
    tile_sizes |= 1 << cpu::winograd_tile_size(params_of(c));
    const Reference r = reference(c);
    for (const std::string& target : cpu::available_cpu_targets()) {
      cpu::ScopedCpuTarget scoped(target);
      for (bool winograd : {true, false}) {
        cpu::ScopedWinograd path(winograd);
        for (int64_t chunk : winograd ? kChunkFloats : std::vector<int64_t>{0}) {
          ScopedChunk chunking(chunk);
          INFO("target " << target << (winograd ? " Winograd" : " direct") << ", chunk " << chunk << ", case n "
                         << c.n << " cin " << c.cin << " " << c.h << "x" << c.w << " cout " << c.cout << " pad "
                         << c.pad);
          const ConvRun got = run_conv(c);
          check_close("y", got.y, r.y, r.ay);
          check_close("gx", got.gx, r.gx, r.agx);
          check_close("gw", got.gw, r.gw, r.agw);
        }
      }
    }
  }
  CHECK(tile_sizes == (1 << 2 | 1 << 4));
}

TEST_CASE("Winograd convs give the same bits on every FMA target, thread count and chunk size",
          "[winograd][conv][determinism]") {
  for (const ConvCase& c : {ConvCase{9, 8, 40, 36, 8, 3, 1, 1, 1, 1}, ConvCase{11, 64, 8, 8, 64, 3, 1, 1, 1, 1}}) {
    ConvRun first;
    std::string first_target;
    for (const std::string& target : cpu::available_cpu_targets()) {
      if (!test::target_has_fma(target)) continue;
      cpu::ScopedCpuTarget scoped(target);
      for (int threads : {1, 2})
        for (int64_t chunk : kChunkFloats) {
          ThreadLimit limit(threads);
          ScopedChunk chunking(chunk);
          const ConvRun run = run_conv(c);
          if (first_target.empty()) {
            first = run;
            first_target = target;
          }
          INFO("cin " << c.cin << ": " << target << ", " << threads << " threads, chunk " << chunk << ", against "
                      << first_target << ", 1 thread, chunk " << kChunkFloats[0]);
          CHECK(run.y == first.y);
          CHECK(run.gx == first.gx);
          CHECK(run.gw == first.gw);
        }
    }
  }
}
