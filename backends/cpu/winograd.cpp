// Winograd F(2x2, 3x3) (Lavin & Gray, 2016) on the CPU. The outputs are cut into 2 x 2 tiles; with
// U = G g G^T (each 3 x 3 kernel as 4 x 4) and V = B^T d B (each 4 x 4 input block), a tile is
// A^T M A where M[xi] = sum over input channels of U[xi] * V[xi]: for each of the 16 xi one GEMM
// (cout x cin) * (cin x tiles). The tiles are processed in chunks (a band of tile rows of one image,
// or several whole images) whose transforms stay in L2; chunks run in parallel. The weight gradient
// is the adjoint: gU[xi] = sum over tiles of (A dy A^T)[xi] * V[xi]^T, then gw = G^T gU G.
#include "backends/cpu/winograd.h"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "backends/cpu/gemm.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

namespace {

std::atomic<bool> enabled{true};

constexpr int kXi = 16;  // transformed values per tile
// Floats of V and M together per chunk (256 KiB): a chunk's transforms stay in L2 between the
// input transform, the 16 GEMMs and the output transform.
constexpr int64_t kChunkFloats = 64 * 1024;

struct Tiling {
  int64_t th, tw;    // tile rows and columns of an image
  int64_t images;    // images per chunk (1 when a chunk is a band of one image's tile rows)
  int64_t rows;      // tile rows per chunk (th when a chunk holds whole images)
  int64_t ldv;       // pitch of a transform row: the largest chunk's tiles and a vector of slack
  int64_t band;      // floats of a padded input band (winograd_input), with its slack
};

struct Chunk {
  int64_t n0, n1, ty0, ty1;
};

Tiling tiling(const Conv2dParams& p) {
  Tiling t;
  t.th = (p.ho + 1) / 2;
  t.tw = (p.wo + 1) / 2;
  const int64_t target = std::max<int64_t>(32, kChunkFloats / (kXi * (p.cin + p.cout)));
  if (t.th * t.tw >= target) {
    t.images = 1;
    t.rows = std::clamp<int64_t>(target / t.tw, 1, t.th);
  } else {
    t.images = std::max<int64_t>(1, target / (t.th * t.tw));
    t.rows = t.th;
  }
  const int64_t lanes = simd().f32_lanes;
  const int64_t tiles = t.images * t.rows * t.tw;
  t.ldv = (tiles + lanes - 1) / lanes * lanes + lanes;
  t.band = (2 * t.rows + 2) * (2 * t.tw + 2) + 2 * lanes + 2;
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

// A thread's buffers: the padded band (zero but where winograd_input writes the plane), V (16 x cin
// rows), M or the output gradient's transform (16 x cout rows) and its transpose, V's row pointers.
struct Scratch {
  std::vector<float> band, v, m, gt;
  std::vector<const float*> vrows;

  Scratch(const Conv2dParams& p, const Tiling& t)
      : band(static_cast<size_t>(t.band)),
        v(static_cast<size_t>(kXi * p.cin * t.ldv)),
        m(static_cast<size_t>(kXi * p.cout * t.ldv)),
        vrows(static_cast<size_t>(kXi * p.cin)) {
    // vrows point into v: built in place (thread-local storage constructs from the prvalue).
    for (int64_t xi = 0; xi < kXi; ++xi)
      for (int64_t c = 0; c < p.cin; ++c)
        vrows[static_cast<size_t>(xi * p.cin + c)] = v.data() + (xi * p.cin + c) * t.ldv;
  }
  Scratch(const Scratch&) = delete;
};

// The input rows a chunk's band reads from plane (n, c), asked for one plane ahead: each band is a
// short piece of its own page, where the hardware prefetchers start late.
void prefetch_band(const Conv2dParams& p, const Chunk& ch, const float* x, int64_t n, int64_t c) {
  const int64_t r0 = std::max<int64_t>(0, 2 * ch.ty0 - p.ph), r1 = std::min(p.h, 2 * ch.ty1 + 2 - p.ph);
  if (r1 <= r0) return;
  const char* begin = reinterpret_cast<const char*>(x + ((n * p.cin + c) * p.h + r0) * p.w);
  const char* end = reinterpret_cast<const char*>(x + ((n * p.cin + c) * p.h + r1) * p.w);
  for (const char* line = begin; line < end; line += 64) __builtin_prefetch(line);
}

// V of every input channel of the chunk's tiles, tile (n, ty, tx) at column ((n - n0) * rows + ty
// - ty0) * tw + tx.
void transform_inputs(const Conv2dParams& p, const Tiling& t, const Chunk& ch, const float* x, Scratch& s) {
  const int64_t rows = ch.ty1 - ch.ty0;
  prefetch_band(p, ch, x, ch.n0, 0);
  for (int64_t n = ch.n0; n < ch.n1; ++n)
    for (int64_t c = 0; c < p.cin; ++c) {
      if (c + 1 < p.cin) prefetch_band(p, ch, x, n, c + 1);
      else if (n + 1 < ch.n1) prefetch_band(p, ch, x, n + 1, 0);
      const WinogradPlane plane{x + (n * p.cin + c) * p.h * p.w, p.h, p.w, p.ph, p.pw};
      simd().winograd_input(plane, ch.ty0, ch.ty1, t.tw, s.band.data(),
                            s.v.data() + c * t.ldv + (n - ch.n0) * rows * t.tw, p.cin * t.ldv);
    }
}

// U = G g G^T of every kernel, as 16 matrices of cout x cin, each packed for the GEMM tiles.
// G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
std::vector<PackedA> transform_filters(const Conv2dParams& p, const float* w) {
  std::vector<float> u(static_cast<size_t>(kXi * p.cout * p.cin));
  const int64_t plane = p.cout * p.cin;
  for (int64_t oc = 0; oc < plane; ++oc) {
    const float* g = w + oc * 9;
    float gg[4][3];  // G g
    for (int b = 0; b < 3; ++b) {
      gg[0][b] = g[b];
      gg[1][b] = (g[b] + g[3 + b] + g[6 + b]) * 0.5f;
      gg[2][b] = (g[b] - g[3 + b] + g[6 + b]) * 0.5f;
      gg[3][b] = g[6 + b];
    }
    for (int i = 0; i < 4; ++i) {  // (G g) G^T
      u[static_cast<size_t>((4 * i + 0) * plane + oc)] = gg[i][0];
      u[static_cast<size_t>((4 * i + 1) * plane + oc)] = (gg[i][0] + gg[i][1] + gg[i][2]) * 0.5f;
      u[static_cast<size_t>((4 * i + 2) * plane + oc)] = (gg[i][0] - gg[i][1] + gg[i][2]) * 0.5f;
      u[static_cast<size_t>((4 * i + 3) * plane + oc)] = gg[i][2];
    }
  }
  std::vector<PackedA> packs(kXi);
  for (int xi = 0; xi < kXi; ++xi) pack_a(p.cout, p.cin, u.data() + xi * plane, p.cin, packs[static_cast<size_t>(xi)]);
  return packs;
}

// gw = G^T gU G per kernel, gU[xi] given as cout x cin matrices.
void filters_adjoint(const Conv2dParams& p, const std::vector<float>& gu, float* gw) {
  const int64_t plane = p.cout * p.cin;
  for (int64_t oc = 0; oc < plane; ++oc) {
    float r[3][4];  // G^T gU
    for (int j = 0; j < 4; ++j) {
      auto at = [&](int i) { return gu[static_cast<size_t>((4 * i + j) * plane + oc)]; };
      const float u0 = at(0), u1 = at(1), u2 = at(2), u3 = at(3);
      r[0][j] = u0 + (u1 + u2) * 0.5f;
      r[1][j] = (u1 - u2) * 0.5f;
      r[2][j] = (u1 + u2) * 0.5f + u3;
    }
    float* g = gw + oc * 9;
    for (int a = 0; a < 3; ++a) {  // (G^T gU) G
      g[a * 3 + 0] = r[a][0] + (r[a][1] + r[a][2]) * 0.5f;
      g[a * 3 + 1] = (r[a][1] - r[a][2]) * 0.5f;
      g[a * 3 + 2] = (r[a][1] + r[a][2]) * 0.5f + r[a][3];
    }
  }
}

}  // namespace

bool winograd_applies(const Conv2dParams& p) {
  return enabled.load(std::memory_order_relaxed) && p.kh == 3 && p.kw == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 &&
         p.dw == 1 && p.groups == 1 && p.cin >= 8 && p.cout >= 8 && p.ho >= 2 && p.wo >= 2;
}

void set_winograd_enabled(bool on) { enabled.store(on, std::memory_order_relaxed); }

void winograd_forward(const Conv2dParams& p, const float* x, const float* w, float* y) {
  const Tiling t = tiling(p);
  const std::vector<PackedA> packs = transform_filters(p, w);
  const std::vector<Chunk> work = chunks(t, 0, p.n);
  tbb::enumerable_thread_specific<Scratch> scratch([&] { return Scratch(p, t); });
  tbb::parallel_for(size_t{0}, work.size(), [&](size_t i) {
    const Chunk& ch = work[i];
    Scratch& s = scratch.local();
    transform_inputs(p, t, ch, x, s);
    const int64_t rows = ch.ty1 - ch.ty0, tiles = (ch.n1 - ch.n0) * rows * t.tw;
    for (int xi = 0; xi < kXi; ++xi)
      gemm_packed_rows(false, packs[static_cast<size_t>(xi)], tiles, s.vrows.data() + xi * p.cin,
                       s.m.data() + xi * p.cout * t.ldv, t.ldv, false);
    for (int64_t n = ch.n0; n < ch.n1; ++n)
      for (int64_t o = 0; o < p.cout; ++o)
        simd().winograd_output(s.m.data() + o * t.ldv + (n - ch.n0) * rows * t.tw, p.cout * t.ldv, ch.ty0, ch.ty1,
                               t.tw, y + (n * p.cout + o) * p.ho * p.wo, p.ho, p.wo);
  });
}

void winograd_backward_weight(const Conv2dParams& p, const float* x, const float* gy, float* gw) {
  const Tiling t = tiling(p);
  const int64_t plane = p.cout * p.cin;
  // Fixed partition of the batch (independent of the thread count), summed in order at the end.
  const int64_t parts = std::min<int64_t>(p.n, 8);
  std::vector<float> partial(static_cast<size_t>(parts * kXi * plane));  // per part: gU[xi]^T, cin x cout
  tbb::enumerable_thread_specific<Scratch> scratch([&] { return Scratch(p, t); });
  tbb::parallel_for(int64_t{0}, parts, [&](int64_t part) {
    Scratch& s = scratch.local();
    s.gt.resize(static_cast<size_t>(t.ldv * p.cout));
    float* acc = partial.data() + part * kXi * plane;
    bool first = true;
    for (const Chunk& ch : chunks(t, p.n * part / parts, p.n * (part + 1) / parts)) {
      transform_inputs(p, t, ch, x, s);
      const int64_t rows = ch.ty1 - ch.ty0, tiles = (ch.n1 - ch.n0) * rows * t.tw;
      for (int64_t n = ch.n0; n < ch.n1; ++n)
        for (int64_t o = 0; o < p.cout; ++o)
          simd().winograd_output_adjoint(gy + (n * p.cout + o) * p.ho * p.wo, p.ho, p.wo, ch.ty0, ch.ty1, t.tw,
                                         s.m.data() + o * t.ldv + (n - ch.n0) * rows * t.tw, p.cout * t.ldv);
      for (int xi = 0; xi < kXi; ++xi) {
        // gU[xi]^T (cin x cout) += V[xi] (cin x tiles) * (A dy A^T)[xi]^T (tiles x cout).
        simd().f32.transpose(s.m.data() + xi * p.cout * t.ldv, t.ldv, p.cout, tiles, s.gt.data(), p.cout);
        simd().gemm_rows_a(p.cin, p.cout, tiles, s.vrows.data() + xi * p.cin, s.gt.data(), p.cout,
                           acc + xi * plane, p.cout, !first);
      }
      first = false;
    }
  });
  std::vector<float> gu(static_cast<size_t>(kXi * plane), 0.0f);  // gU[xi], cout x cin
  for (int64_t part = 0; part < parts; ++part)
    for (int64_t xi = 0; xi < kXi; ++xi) {
      const float* src = partial.data() + (part * kXi + xi) * plane;
      float* dst = gu.data() + xi * plane;
      for (int64_t c = 0; c < p.cin; ++c)
        for (int64_t o = 0; o < p.cout; ++o) dst[o * p.cin + c] += src[c * p.cout + o];
    }
  filters_adjoint(p, gu, gw);
}

}  // namespace sl::cpu
