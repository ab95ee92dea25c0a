// Winograd F(m x m, 3x3) (Lavin & Gray, 2016) on the CPU, m = 2 or 4. The outputs are cut into m x m
// tiles; with U = G g G^T (each 3 x 3 kernel as a = m + 2 square) and V = B^T d B (each a x a input
// block), a tile is A^T M A where M[xi] = sum over input channels of U[xi] * V[xi]: for each of the
// a^2 xi one GEMM (cout x cin) * (cin x tiles). The tiles are processed in chunks (a band of tile rows
// of one image, or several whole images) whose transforms stay in L2; chunks run in parallel. The
// weight gradient is the adjoint: gU[xi] = sum over tiles of (A dy A^T)[xi] * V[xi]^T, then
// gw = G^T gU G.
//
// F(4x4, 3x3) does 4x fewer multiply-adds than the direct conv, F(2x2, 3x3) 2.25x. The transforms run
// a vector of tiles at a time, along a tile row or across several narrow ones (winograd_kernels.cpp).
// F(4x4, 3x3) is taken for outputs at least 32 wide, F(2x2, 3x3) below. The choice does not depend on
// the target, so the results stay the same on every target with FMA. (F(4x4, 3x3) from 16 columns ran
// stage 2 of resnet20 about 18 % faster on AVX2 and no faster on AVX-512 once narrow tile rows were
// joined, but it rounds more: the --sync-bn trajectory test's parameters then differ by 8.4e-4 > 1e-4.)
#include "backends/cpu/winograd.h"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "backends/cpu/gemm.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

namespace {

std::atomic<bool> enabled{true};

// Floats of V and M together per chunk: three quarters of the core's L2, so a chunk's transforms
// stay there between the input transform, the GEMMs and the output transform, and the GEMMs get as
// many tiles as that allows (on Zen 3's 512 KiB, 96K floats ran stage 1 of resnet20 ~6% faster than
// 64K and stage 2 as fast; a full L2 was slower). Unknown L2 (sysconf 0, as on many ARM kernels):
// 512 KiB. The chunking does not change the results: every sum runs over the tiles in one order.
int64_t l2_chunk_floats() {
  static const int64_t floats = [] {
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    const int64_t bytes = l2 > 0 ? static_cast<int64_t>(l2) : int64_t{512} * 1024;
    return std::clamp<int64_t>(bytes / 4 * 3 / 4, int64_t{32} * 1024, int64_t{256} * 1024);
  }();
  return floats;
}

std::atomic<int64_t> chunk_override{0};  // set_winograd_chunk_floats; 0: l2_chunk_floats()

int64_t chunk_floats() {
  const int64_t set = chunk_override.load();
  return set > 0 ? set : l2_chunk_floats();
}

constexpr int64_t kWideOutput = 32;  // output width from which F(4x4, 3x3) is taken

struct Tiling {
  int64_t m, xi;     // outputs per tile side; transformed values per tile, (m + 2)^2
  const WinogradKernels* kernels;
  int64_t th, tw;    // tile rows and columns of an image
  int64_t images;    // images per chunk (1 when a chunk is a band of one image's tile rows)
  int64_t rows;      // tile rows per chunk (th when a chunk holds whole images)
  int64_t ldv;       // pitch of a transform row: the largest chunk's tiles and a vector of slack
  int64_t band;      // floats of a padded input band (WinogradKernels::input), with its slack
};

struct Chunk {
  int64_t n0, n1, ty0, ty1;
};

Tiling tiling(const Conv2dParams& p) {
  Tiling t;
  const int64_t lanes = simd().f32_lanes;
  t.m = winograd_tile_size(p);
  t.xi = (t.m + 2) * (t.m + 2);
  t.kernels = t.m == 4 ? &simd().winograd4 : &simd().winograd2;
  t.th = (p.ho + t.m - 1) / t.m;
  t.tw = (p.wo + t.m - 1) / t.m;
  const int64_t target = std::max<int64_t>(16, chunk_floats() / (t.xi * (p.cin + p.cout)));
  if (t.th * t.tw >= target) {
    t.images = 1;
    t.rows = std::clamp<int64_t>(target / t.tw, 1, t.th);
  } else {
    t.images = std::max<int64_t>(1, target / (t.th * t.tw));
    t.rows = t.th;
  }
  const int64_t tiles = t.images * t.rows * t.tw;
  t.ldv = (tiles + lanes - 1) / lanes * lanes + lanes;
  t.band = (t.m * t.rows + 2) * (t.m * t.tw + 2) + t.m * lanes + 4;
  return t;
}

std::vector<Chunk> chunks(const Tiling& t, int64_t n0, int64_t n1) {
  std::vector<Chunk> out;
  for (int64_t n = n0; n < n1; n += t.images) {
    if (t.images > 1) {
      out.push_back({n, std::min(n + t.images, n1), 0, t.th});
      continue;
    }
    for (int64_t ty = 0; ty < t.th; ty += t.rows) out.push_back({n, n + 1, ty, std::min(ty + t.rows, t.th)});
  }
  return out;
}

// A thread's buffers: the padded band (zero but where the input transform writes the plane), V (cin x
// xi rows: a channel's transforms together, which the input transform writes at once), M or the
// output gradient's transform (cout x xi rows) and its transpose, V's row pointers for the GEMMs.
struct Scratch {
  std::vector<float> band, v, m, gt;
  std::vector<const float*> vrows;

  Scratch(const Conv2dParams& p, const Tiling& t)
      : band(static_cast<size_t>(t.band)),
        v(static_cast<size_t>(t.xi * p.cin * t.ldv)),
        m(static_cast<size_t>(t.xi * p.cout * t.ldv)),
        vrows(static_cast<size_t>(t.xi * p.cin)) {
    // vrows point into v: built in place (thread-local storage constructs from the prvalue).
    for (int64_t xi = 0; xi < t.xi; ++xi)
      for (int64_t c = 0; c < p.cin; ++c)
        vrows[static_cast<size_t>(xi * p.cin + c)] = v.data() + (c * t.xi + xi) * t.ldv;
  }
  Scratch(const Scratch&) = delete;
};

// The input rows a chunk's band reads from plane (n, c), asked for one plane ahead: each band is a
// short piece of its own page, where the hardware prefetchers start late.
void prefetch_band(const Conv2dParams& p, const Tiling& t, const Chunk& ch, const float* x, int64_t n, int64_t c) {
  const int64_t r0 = std::max<int64_t>(0, t.m * ch.ty0 - p.ph), r1 = std::min(p.h, t.m * ch.ty1 + 2 - p.ph);
  if (r1 <= r0) return;
  const char* begin = reinterpret_cast<const char*>(x + ((n * p.cin + c) * p.h + r0) * p.w);
  const char* end = reinterpret_cast<const char*>(x + ((n * p.cin + c) * p.h + r1) * p.w);
  for (const char* line = begin; line < end; line += 64) __builtin_prefetch(line);
}

// V of every input channel of the chunk's tiles, tile (n, ty, tx) at column ((n - n0) * rows + ty
// - ty0) * tw + tx.
void transform_inputs(const Conv2dParams& p, const Tiling& t, const Chunk& ch, const float* x, Scratch& s) {
  const int64_t rows = ch.ty1 - ch.ty0;
  prefetch_band(p, t, ch, x, ch.n0, 0);
  for (int64_t n = ch.n0; n < ch.n1; ++n)
    for (int64_t c = 0; c < p.cin; ++c) {
      if (c + 1 < p.cin) prefetch_band(p, t, ch, x, n, c + 1);
      else if (n + 1 < ch.n1) prefetch_band(p, t, ch, x, n + 1, 0);
      const WinogradPlane plane{x + (n * p.cin + c) * p.h * p.w, p.h, p.w, p.ph, p.pw};
      t.kernels->input(plane, ch.ty0, ch.ty1, t.tw, s.band.data(),
                       s.v.data() + c * t.xi * t.ldv + (n - ch.n0) * rows * t.tw, t.ldv);
    }
}

// G g for one column g0..g2 of a kernel: a = m + 2 values. F(2x2, 3x3): G's rows 1 0 0; 1/2 1/2 1/2;
// 1/2 -1/2 1/2; 0 0 1. F(4x4, 3x3): 1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
// 1/24 -1/12 1/6; 0 0 1.
void kernel_transform(int64_t m, const float (&g)[3], float* u) {
  if (m == 2) {
    u[0] = g[0];
    u[1] = (g[0] + g[1] + g[2]) * 0.5f;
    u[2] = (g[0] - g[1] + g[2]) * 0.5f;
    u[3] = g[2];
    return;
  }
  u[0] = g[0] * 0.25f;
  u[1] = -(g[0] + g[1] + g[2]) / 6.0f;
  u[2] = -(g[0] - g[1] + g[2]) / 6.0f;
  u[3] = (g[0] * 0.25f + g[1] * 0.5f + g[2]) / 6.0f;
  u[4] = (g[0] * 0.25f - g[1] * 0.5f + g[2]) / 6.0f;
  u[5] = g[2];
}

// G^T u, its adjoint: a values to three.
void kernel_adjoint(int64_t m, const float* u, float (&g)[3]) {
  if (m == 2) {
    g[0] = u[0] + (u[1] + u[2]) * 0.5f;
    g[1] = (u[1] - u[2]) * 0.5f;
    g[2] = (u[1] + u[2]) * 0.5f + u[3];
    return;
  }
  const float plus = (u[1] + u[2]) / 6.0f, sum34 = u[3] + u[4];
  g[0] = u[0] * 0.25f - plus + sum34 / 24.0f;
  g[1] = (u[2] - u[1]) / 6.0f + (u[3] - u[4]) / 12.0f;
  g[2] = sum34 / 6.0f - plus + u[5];
}

// U = G g G^T of every kernel, as xi matrices of cout x cin, each packed for the GEMM tiles.
std::vector<PackedA> transform_filters(const Conv2dParams& p, const Tiling& t, const float* w) {
  const int64_t a = t.m + 2, plane = p.cout * p.cin;
  std::vector<float> u(static_cast<size_t>(t.xi * plane));
  for (int64_t oc = 0; oc < plane; ++oc) {
    const float* g = w + oc * 9;
    float gg[3][6];  // (G g)[i][b] = gg[b][i]
    for (int b = 0; b < 3; ++b) kernel_transform(t.m, {g[b], g[3 + b], g[6 + b]}, gg[b]);
    for (int64_t i = 0; i < a; ++i) {  // (G g) G^T, row i
      float row[6];
      kernel_transform(t.m, {gg[0][i], gg[1][i], gg[2][i]}, row);
      for (int64_t j = 0; j < a; ++j) u[static_cast<size_t>((a * i + j) * plane + oc)] = row[j];
    }
  }
  std::vector<PackedA> packs(static_cast<size_t>(t.xi));
  for (int64_t xi = 0; xi < t.xi; ++xi)
    pack_a(p.cout, p.cin, u.data() + xi * plane, p.cin, packs[static_cast<size_t>(xi)]);
  return packs;
}

// gw = G^T gU G per kernel, gU[xi] given as cout x cin matrices.
void filters_adjoint(const Conv2dParams& p, const Tiling& t, const std::vector<float>& gu, float* gw) {
  const int64_t a = t.m + 2, plane = p.cout * p.cin;
  for (int64_t oc = 0; oc < plane; ++oc) {
    float r[6][3];  // row i of gU times G
    for (int64_t i = 0; i < a; ++i) {
      float row[6];
      for (int64_t j = 0; j < a; ++j) row[j] = gu[static_cast<size_t>((a * i + j) * plane + oc)];
      kernel_adjoint(t.m, row, r[i]);
    }
    float* g = gw + oc * 9;
    for (int b = 0; b < 3; ++b) {  // G^T (gU G), column b
      float col[6], out[3];
      for (int64_t i = 0; i < a; ++i) col[i] = r[i][b];
      kernel_adjoint(t.m, col, out);
      for (int k = 0; k < 3; ++k) g[k * 3 + b] = out[k];
    }
  }
}

}  // namespace

bool winograd_applies(const Conv2dParams& p) {
  return enabled.load(std::memory_order_relaxed) && p.kh == 3 && p.kw == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 &&
         p.dw == 1 && p.groups == 1 && p.cin >= 8 && p.cout >= 8 && p.ho >= 2 && p.wo >= 2;
}

int64_t winograd_tile_size(const Conv2dParams& p) { return p.wo >= kWideOutput ? 4 : 2; }

bool set_winograd_enabled(bool on) { return enabled.exchange(on, std::memory_order_relaxed); }

int64_t set_winograd_chunk_floats(int64_t floats) { return chunk_override.exchange(std::max<int64_t>(floats, 0)); }

void winograd_forward(const Conv2dParams& p, const float* x, const float* w, float* y) {
  const Tiling t = tiling(p);
  const std::vector<PackedA> packs = transform_filters(p, t, w);
  const std::vector<Chunk> work = chunks(t, 0, p.n);
  tbb::enumerable_thread_specific<Scratch> scratch([&] { return Scratch(p, t); });
  tbb::parallel_for(size_t{0}, work.size(), [&](size_t i) {
    const Chunk& ch = work[i];
    Scratch& s = scratch.local();
    transform_inputs(p, t, ch, x, s);
    const int64_t rows = ch.ty1 - ch.ty0, tiles = (ch.n1 - ch.n0) * rows * t.tw;
    for (int64_t xi = 0; xi < t.xi; ++xi)
      gemm_packed_rows(false, packs[static_cast<size_t>(xi)], tiles, s.vrows.data() + xi * p.cin,
                       s.m.data() + xi * t.ldv, t.xi * t.ldv, false);
    for (int64_t n = ch.n0; n < ch.n1; ++n)
      for (int64_t o = 0; o < p.cout; ++o)
        t.kernels->output(s.m.data() + o * t.xi * t.ldv + (n - ch.n0) * rows * t.tw, t.ldv, ch.ty0, ch.ty1, t.tw,
                          y + (n * p.cout + o) * p.ho * p.wo, p.ho, p.wo);
  });
}

void winograd_backward_weight(const Conv2dParams& p, const float* x, const float* gy, float* gw) {
  const Tiling t = tiling(p);
  const int64_t plane = p.cout * p.cin;
  // Fixed partition of the batch (independent of the thread count), summed in order at the end.
  const int64_t parts = std::min<int64_t>(p.n, 8);
  std::vector<float> partial(static_cast<size_t>(parts * t.xi * plane));  // per part: gU[xi]^T, cin x cout
  tbb::enumerable_thread_specific<Scratch> scratch([&] { return Scratch(p, t); });
  tbb::parallel_for(int64_t{0}, parts, [&](int64_t part) {
    Scratch& s = scratch.local();
    s.gt.resize(static_cast<size_t>(t.ldv * p.cout));
    float* acc = partial.data() + part * t.xi * plane;
    bool first = true;
    for (const Chunk& ch : chunks(t, p.n * part / parts, p.n * (part + 1) / parts)) {
      transform_inputs(p, t, ch, x, s);
      const int64_t rows = ch.ty1 - ch.ty0, tiles = (ch.n1 - ch.n0) * rows * t.tw;
      for (int64_t n = ch.n0; n < ch.n1; ++n)
        for (int64_t o = 0; o < p.cout; ++o)
          t.kernels->output_adjoint(gy + (n * p.cout + o) * p.ho * p.wo, p.ho, p.wo, ch.ty0, ch.ty1, t.tw,
                                    s.m.data() + o * t.xi * t.ldv + (n - ch.n0) * rows * t.tw, t.ldv);
      for (int64_t xi = 0; xi < t.xi; ++xi) {
        // gU[xi]^T (cin x cout) += V[xi] (cin x tiles) * (A dy A^T)[xi]^T (tiles x cout).
        simd().f32.transpose(s.m.data() + xi * t.ldv, t.xi * t.ldv, p.cout, tiles, s.gt.data(), p.cout);
        simd().gemm_rows_a(p.cin, p.cout, tiles, s.vrows.data() + xi * p.cin, s.gt.data(), p.cout,
                           acc + xi * plane, p.cout, !first);
      }
      first = false;
    }
  });
  std::vector<float> gu(static_cast<size_t>(t.xi * plane), 0.0f);  // gU[xi], cout x cin
  for (int64_t part = 0; part < parts; ++part)
    for (int64_t xi = 0; xi < t.xi; ++xi) {
      const float* src = partial.data() + (part * t.xi + xi) * plane;
      float* dst = gu.data() + xi * plane;
      for (int64_t c = 0; c < p.cin; ++c)
        for (int64_t o = 0; o < p.cout; ++o) dst[o * p.cin + c] += src[c * p.cout + o];
    }
  filters_adjoint(p, t, gu, gw);
}

}  // namespace sl::cpu
