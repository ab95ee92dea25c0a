// Max pooling 2x2 / stride 2 (the MNIST nets' pools), the quantizers' projection onto a level set and
// APoT's clipped quantizer that projects with it, per SIMD target. They take the scalar loops' and
// the element-wise ops' steps, so they give their results exactly, ties and NaN included, on every
// target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/pool_quant_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "backends/cpu/simd/kernels.h"
#include "backends/cpu/simd/map-inl.h"
#include "backends/cpu/simd/quant-inl.h"
#include "backends/cpu/simd/nearest_level.h"

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

// One output of a 2x2 window at (2oh, 2ow), as pool.cpp's scan: the first maximum wins, the first
// NaN wins and stays.
template <class T>
void MaxWindowScalar(const T* x, int64_t w, int64_t oh, int64_t ow, T* y, int32_t* idx) {
  T best = 0;
  int32_t arg = -1;
  for (int64_t ih = 2 * oh; ih < 2 * oh + 2; ++ih)
    for (int64_t iw = 2 * ow; iw < 2 * ow + 2; ++iw) {
      const T v = x[ih * w + iw];
      if (arg < 0 || (best == best && (v > best || v != v))) {
        best = v;
        arg = static_cast<int32_t>(ih * w + iw);
      }
    }
  *y = best;
  *idx = arg;
}

#if HWY_TARGET != HWY_SCALAR  // one-lane vectors have no even/odd lanes to split
// Outputs [ow, ow + lanes) of output row oh, with vectors of d's width: the window's four values come
// from the even and odd lanes of two loads per input row.
template <class D, class T>
HWY_INLINE void MaxBlock2x2(D d, const T* HWY_RESTRICT x, int64_t w, int64_t oh, int64_t ow, T* HWY_RESTRICT y,
                            int32_t* HWY_RESTRICT idx) {
  const hn::RebindToSigned<D> di;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  const T* r0 = x + 2 * oh * w + 2 * ow;
  const T* r1 = r0 + w;
  const auto a0 = hn::LoadU(d, r0), a1 = hn::LoadU(d, r0 + L), b0 = hn::LoadU(d, r1), b1 = hn::LoadU(d, r1 + L);
  const auto base = hn::Add(hn::Mul(hn::Iota(di, 0), hn::Set(di, 2)), hn::Set(di, static_cast<int32_t>(2 * oh * w + 2 * ow)));
  auto best = hn::ConcatEven(d, a1, a0);
  auto arg = base;
  auto consider = [&](decltype(best) v, int32_t offset) HWY_ATTR {
    const auto take = hn::AndNot(hn::IsNaN(best), hn::Or(hn::Gt(v, best), hn::IsNaN(v)));
    best = hn::IfThenElse(take, v, best);
    arg = hn::IfThenElse(hn::RebindMask(di, take), hn::Add(base, hn::Set(di, offset)), arg);
  };
  consider(hn::ConcatOdd(d, a1, a0), 1);
  consider(hn::ConcatEven(d, b1, b0), static_cast<int32_t>(w));
  consider(hn::ConcatOdd(d, b1, b0), static_cast<int32_t>(w + 1));
  hn::StoreU(best, d, y + ow);
  hn::StoreU(arg, di, idx + ow);
}

// Outputs [ow, wo) of a row: full vectors, then halves, quarters... down to two lanes (small
// planes, e.g. 12 outputs per row, still run on vectors), the last one scalar.
template <size_t N, class T>
HWY_INLINE void MaxRow2x2(const T* x, int64_t w, int64_t oh, int64_t ow, int64_t wo, T* y, int32_t* idx) {
  if constexpr (N >= 2) {
    const hn::CappedTag<T, N> d;
    for (; ow + static_cast<int64_t>(N) <= wo; ow += static_cast<int64_t>(N)) MaxBlock2x2(d, x, w, oh, ow, y, idx);
    MaxRow2x2<N / 2>(x, w, oh, ow, wo, y, idx);
  } else {
    for (; ow < wo; ++ow) MaxWindowScalar(x, w, oh, ow, y + ow, idx + ow);
  }
}
#endif

// Max pooling with a 2x2 window and stride 2, no padding, over one plane (w input columns, ho x wo
// outputs with 2 ho and 2 wo within the input): values and the flat input index of each maximum.
template <class T>
void MaxPool2x2(const T* HWY_RESTRICT x, int64_t w, int64_t ho, int64_t wo, T* HWY_RESTRICT y,
                int32_t* HWY_RESTRICT idx) {
  for (int64_t oh = 0; oh < ho; ++oh) {
#if HWY_TARGET != HWY_SCALAR
    if constexpr (sizeof(T) == sizeof(int32_t)) {
      MaxRow2x2<hn::MaxLanes(hn::ScalableTag<T>())>(x, w, oh, 0, wo, y + oh * wo, idx + oh * wo);
      continue;
    }
#endif
    for (int64_t ow = 0; ow < wo; ++ow) MaxWindowScalar(x, w, oh, ow, y + oh * wo + ow, idx + oh * wo + ow);
  }
}

// Level sets of up to 8 vectors of levels run vectorised. Inputs within the set's range count the
// thresholds at or below them (see nearest_level.h), the fast way; a vector with any other input (NaN,
// beyond the ends, or a set without thresholds) counts the levels below each input (lower_bound's
// position) and compares the window's levels and tie ranks, looked up in registers
// (TableLookupLanes over the level vectors), as the scalar loop does. Larger sets, and the one-lane
// fallback target, take the scalar binary search.
constexpr int64_t kMaxTableVectors = 8;

template <class T>
void NearestLevel(const T* HWY_RESTRICT x, int64_t n, const T* levels, const int32_t* rank, const T* thresholds,
                  int64_t nlev, T* HWY_RESTRICT value, int32_t* HWY_RESTRICT index) {
  int64_t i = 0;
#if HWY_TARGET != HWY_SCALAR
  using D = hn::ScalableTag<T>;
  using V = hn::Vec<D>;
  const D d;
  const hn::RebindToSigned<D> di;
  using TI = hn::TFromD<decltype(di)>;
  using VI = hn::Vec<decltype(di)>;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  const int64_t tables = (nlev + L - 1) / L;
  if (tables <= kMaxTableVectors) {
    V lev_tab[kMaxTableVectors], rank_tab[kMaxTableVectors];
    for (int64_t t = 0; t < tables; ++t) {
      T lv[hn::MaxLanes(D())] = {}, rk[hn::MaxLanes(D())] = {};
      for (int64_t l = 0; l < L && t * L + l < nlev; ++l) {
        lv[l] = levels[t * L + l];
        rk[l] = static_cast<T>(rank[t * L + l]);  // small integers: exact in T
      }
      lev_tab[t] = hn::LoadU(d, lv);
      rank_tab[t] = hn::LoadU(d, rk);
    }
    // tab[idx] per lane, for idx in [0, nlev).
    auto lookup = [&](const V* tab, VI idx) HWY_ATTR {
      const auto ind = hn::IndicesFromVec(d, hn::And(idx, hn::Set(di, static_cast<TI>(L - 1))));
      V r = hn::TableLookupLanes(tab[0], ind);
      for (int64_t t = 1; t < tables; ++t)
        r = hn::IfThenElse(hn::RebindMask(d, hn::Gt(idx, hn::Set(di, static_cast<TI>(t * L - 1)))),
                           hn::TableLookupLanes(tab[t], ind), r);
      return r;
    };
    // c - mask: adds 1 where the mask is set.
    auto count_if = [&](VI c, auto mask) HWY_ATTR { return hn::Sub(c, hn::VecFromMask(di, hn::RebindMask(di, mask))); };
    // The number of levels below v (lower_bound's position), and of thresholds at or below v.
    auto count_lt = [&](const T* bounds, int64_t nb, V v) HWY_ATTR {
      VI c = hn::Zero(di);
      for (int64_t l = 0; l < nb; ++l) c = count_if(c, hn::Lt(hn::Set(d, bounds[l]), v));
      return c;
    };
    auto count_le = [&](const T* bounds, int64_t nb, V v) HWY_ATTR {
      VI c = hn::Zero(di);
      for (int64_t l = 0; l < nb; ++l) c = count_if(c, hn::Le(hn::Set(d, bounds[l]), v));
      return c;
    };
    auto window = [&](V v, V* level) HWY_ATTR {
      const VI hi = count_lt(levels, nlev, v);  // levels < v
      const auto lo = hn::Max(hn::Sub(hi, hn::Set(di, TI(2))), hn::Zero(di));
      const auto end = hn::Min(hn::Add(hi, hn::Set(di, TI(2))), hn::Set(di, static_cast<TI>(nlev)));
      auto best = lo;
      V best_level = lookup(lev_tab, lo), best_rank = lookup(rank_tab, lo);
      V best_d = hn::Abs(hn::Sub(v, best_level));
      for (TI j = 1; j < 4; ++j) {  // the window is [lo, end), at most 4 levels
        const auto pos = hn::Add(lo, hn::Set(di, j));
        const auto inside = hn::RebindMask(d, hn::Lt(pos, end));
        const auto at = hn::Min(pos, hn::Set(di, static_cast<TI>(nlev - 1)));
        const V lev = lookup(lev_tab, at), rk = lookup(rank_tab, at);
        const V dist = hn::Abs(hn::Sub(v, lev));
        const auto better = hn::Or(hn::Lt(dist, best_d), hn::And(hn::Eq(dist, best_d), hn::Lt(rk, best_rank)));
        const auto take = hn::And(inside, better);
        best = hn::IfThenElse(hn::RebindMask(di, take), pos, best);
        best_d = hn::IfThenElse(take, dist, best_d);
        best_rank = hn::IfThenElse(take, rk, best_rank);
        best_level = hn::IfThenElse(take, lev, best_level);
      }
      *level = best_level;
      return best;
    };
    // APoT's usual sets (8 and 16 levels) count with their thresholds unrolled and held in registers.
    auto count_le_fixed = [&](auto nb_tag, V v) HWY_ATTR {
      constexpr int kN = decltype(nb_tag)::value;
      VI c = hn::Zero(di);
      for (int l = 0; l < kN; ++l) c = count_if(c, hn::Le(hn::Set(d, thresholds[l]), v));
      return c;
    };
    const V first = hn::Set(d, levels[0]), last = hn::Set(d, levels[nlev - 1]);
    for (; i + L <= n; i += L) {
      const V v = hn::LoadU(d, x + i);
      VI best;
      V best_level;
      if (thresholds && hn::AllTrue(d, hn::And(hn::Ge(v, first), hn::Le(v, last)))) {
        if (nlev == 8)
          best = count_le_fixed(std::integral_constant<int, 7>(), v);
        else if (nlev == 16)
          best = count_le_fixed(std::integral_constant<int, 15>(), v);
        else
          best = count_le(thresholds, nlev - 1, v);
        best_level = lookup(lev_tab, best);
      } else {
        best = window(v, &best_level);
      }
      if (value) hn::StoreU(best_level, d, value + i);
      if (index) {
        TI pos[hn::MaxLanes(D())];
        hn::StoreU(best, di, pos);
        for (int64_t j = 0; j < L; ++j) index[i + j] = static_cast<int32_t>(pos[j]);
      }
    }
  }
#endif
  (void)thresholds;
  for (; i < n; ++i) {
    const int64_t best = NearestLevelScalar(x[i], levels, rank, nlev);
    if (value) value[i] = levels[best];
    if (index) index[i] = static_cast<int32_t>(best);
  }
}

// APoT's clipped straight-through quantizer, the element-wise ops' steps in one pass through L1:
// c = clamp(x / a, lo, hi), q = p's projection of c (the nearest level of c or, symmetric, of |c|
// times sign(c); or round(clamp(c, -1 or 0, 1) * steps) / steps), u = c + (q - c),
// out = (u * a) * scale (u * a when scale is 1).
template <class T>
void ApotQuantize(const T* HWY_RESTRICT x, int64_t n, T a, T lo, T hi, T scale, const LevelProjection<T>& p,
                  T* HWY_RESTRICT u, T* HWY_RESTRICT out) {
  constexpr int64_t kBlock = 512;
  HWY_ALIGN T c[kBlock], m[kBlock], q[kBlock];  // m = |c| (symmetric sets only)
  const T ulo = p.symmetric ? T(-1) : T(0);
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t len = std::min(kBlock, n - b);
    ForEachVector<T>(len, [&](auto d, int64_t i) HWY_ATTR {
      const auto cv = ClampTo(d, hn::Div(hn::LoadU(d, x + b + i), hn::Set(d, a)), lo, hi);
      hn::StoreU(cv, d, c + i);
      if (p.levels && p.symmetric) hn::StoreU(hn::Abs(cv), d, m + i);
    });
    if (p.levels) NearestLevel(p.symmetric ? m : c, len, p.levels, p.tie_rank, p.thresholds, p.nlevels, q, nullptr);
    ForEachVector<T>(len, [&](auto d, int64_t i) HWY_ATTR {
      const auto cv = hn::LoadU(d, c + i);
      auto qv = hn::Zero(d);
      if (!p.levels) {
        const auto steps = hn::Set(d, p.steps);
        const auto r = hn::Mul(ClampTo(d, cv, ulo, T(1)), steps);
        qv = hn::Div(hn::CopySign(hn::Round(r), r), steps);
      } else if (p.symmetric) {
        qv = hn::Mul(SignOf(d, cv), hn::LoadU(d, q + i));
      } else {
        qv = hn::LoadU(d, q + i);
      }
      const auto uv = hn::Add(cv, hn::Sub(qv, cv));
      hn::StoreU(uv, d, u + b + i);
      auto ov = hn::Mul(uv, hn::Set(d, a));
      if (scale != T(1)) ov = hn::Mul(ov, hn::Set(d, scale));
      hn::StoreU(ov, d, out + b + i);
    });
  }
}

template <class T>
void FillTyped(TypedKernels<T>& t) {
  t.max_pool_2x2 = MaxPool2x2<T>;
  t.nearest_level = NearestLevel<T>;
  t.apot_quantize = ApotQuantize<T>;
}

}  // namespace

void FillPoolQuantKernels(SimdKernels* k) {
  FillTyped(k->f32);
  FillTyped(k->f64);
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::cpu {
HWY_EXPORT(FillPoolQuantKernels);
void fill_pool_quant_kernels(SimdKernels& k) { HWY_DYNAMIC_DISPATCH(FillPoolQuantKernels)(&k); }
}  // namespace sl::cpu
#endif
