// Max pooling 2x2 / stride 2 (the MNIST nets' pools), the quantizers' projection onto a level set and
// APoT's clipped quantizer that projects with it (forward and gradients), per SIMD target. They take
// the scalar loops' and the element-wise ops' steps, so they give their results exactly, ties and NaN
// included, on every target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/pool_quant_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/cpu/row_sum.h"
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
// thresholds at or below them (see nearest_level.h), the fast way (by bisection for sets of up to
// twice the lanes: APoT's 8 and 16 levels in f32); a vector with any other input (NaN,
// beyond the ends, or a set without thresholds) counts the levels below each input (lower_bound's
// position) and compares the window's levels and tie ranks, looked up in registers
// (TableLookupLanes over the level vectors), as the scalar loop does. Larger sets, and the one-lane
// fallback target, take the scalar binary search.
constexpr int64_t kMaxTableVectors = 8;

#if HWY_TARGET != HWY_SCALAR
// A level set in vector tables: Nearest(v) is the nearest level of each lane of v (and its index),
// by the rule of NearestLevelScalar. Only for sets of at most kMaxTableVectors vectors (usable()).
template <class T>
class LevelTables {
 public:
  using D = hn::ScalableTag<T>;
  using V = hn::Vec<D>;
  using DI = hn::RebindToSigned<D>;
  using TI = hn::TFromD<DI>;
  using VI = hn::Vec<DI>;

  LevelTables(const T* levels, const int32_t* rank, const T* thresholds, int64_t nlev)
      : levels_(levels), thresholds_(thresholds), nlev_(nlev), tables_((nlev + Lanes() - 1) / Lanes()) {
    if (!usable()) return;
    const D d;
    for (int64_t t = 0; t < tables_; ++t) {
      T lv[hn::MaxLanes(D())] = {}, rk[hn::MaxLanes(D())] = {};
      for (int64_t l = 0; l < Lanes() && t * Lanes() + l < nlev; ++l) {
        lv[l] = levels[t * Lanes() + l];
        rk[l] = static_cast<T>(rank[t * Lanes() + l]);  // small integers: exact in T
      }
      lev_tab_[t] = hn::LoadU(d, lv);
      rank_tab_[t] = hn::LoadU(d, rk);
    }
    if (!thresholds) return;
    // Bisection tables: the thresholds padded with +inf to size - 1 (size the power of two >= nlev),
    // and for the step of s = size / 2^(j + 1), table j holds the candidates thr[i * 2s + s - 1].
    // Sizes up to twice the lanes keep every table in one vector: one lookup a step.
    int64_t size = 1, steps = 0;
    while (size < nlev) size *= 2, ++steps;
    if (size > 2 * Lanes() || steps > kMaxBisectSteps) return;
    for (int64_t j = 0; j < steps; ++j) {
      const int64_t s = size >> (j + 1);
      T cand[hn::MaxLanes(D())] = {};
      for (int64_t i = 0; i * 2 * s < size; ++i) {
        const int64_t at = i * 2 * s + s - 1;
        cand[i] = at < nlev - 1 ? thresholds[at] : std::numeric_limits<T>::infinity();
      }
      bisect_tab_[j] = hn::LoadU(d, cand);
    }
    bisect_steps_ = steps;
  }

  bool usable() const { return tables_ <= kMaxTableVectors; }

  // The nearest level of each lane of v; its index in *index.
  HWY_INLINE V Nearest(V v, VI* index) const {
    const D d;
    const V first = hn::Set(d, levels_[0]), last = hn::Set(d, levels_[nlev_ - 1]);
    if (thresholds_ && hn::AllTrue(d, hn::And(hn::Ge(v, first), hn::Le(v, last)))) {
      *index = bisect_steps_ > 0 ? Bisect(v) : CountLe(thresholds_, nlev_ - 1, v);
      return Lookup(lev_tab_, *index);
    }
    return Window(v, index);
  }

 private:
  static int64_t Lanes() { return static_cast<int64_t>(hn::Lanes(D())); }

  // tab[idx] per lane, for idx in [0, nlev).
  HWY_INLINE V Lookup(const V* tab, VI idx) const {
    const D d;
    const DI di;
    const auto ind = hn::IndicesFromVec(d, hn::And(idx, hn::Set(di, static_cast<TI>(Lanes() - 1))));
    V r = hn::TableLookupLanes(tab[0], ind);
    for (int64_t t = 1; t < tables_; ++t)
      r = hn::IfThenElse(hn::RebindMask(d, hn::Gt(idx, hn::Set(di, static_cast<TI>(t * Lanes() - 1)))),
                         hn::TableLookupLanes(tab[t], ind), r);
    return r;
  }

  // c - mask: adds 1 where the mask is set.
  template <class M>
  static HWY_INLINE VI CountIf(VI c, M mask) {
    const DI di;
    return hn::Sub(c, hn::VecFromMask(di, hn::RebindMask(di, mask)));
  }

  // The number of bounds below v (lower_bound's position), and of bounds at or below v.
  static HWY_INLINE VI CountLt(const T* bounds, int64_t nb, V v) {
    const D d;
    VI c = hn::Zero(DI());
    for (int64_t l = 0; l < nb; ++l) c = CountIf(c, hn::Lt(hn::Set(d, bounds[l]), v));
    return c;
  }
  static HWY_INLINE VI CountLe(const T* bounds, int64_t nb, V v) {
    const D d;
    VI c = hn::Zero(DI());
    for (int64_t l = 0; l < nb; ++l) c = CountIf(c, hn::Le(hn::Set(d, bounds[l]), v));
    return c;
  }
  // The number of thresholds <= v by bisection (the thresholds rise strictly, so it is CountLe's
  // count): log2(size) lookups and compares where CountLe makes nlev - 1 compares.
  HWY_INLINE VI Bisect(V v) const {
    const D d;
    const DI di;
    VI idx = hn::Zero(di);
    for (int j = 0; j < bisect_steps_; ++j) {
      const int shift = bisect_steps_ - j;  // log2(2s): idx is a multiple of 2s
      const V cand = hn::TableLookupLanes(bisect_tab_[j], hn::IndicesFromVec(d, hn::ShiftRightSame(idx, shift)));
      idx = hn::Add(idx, hn::IfThenElseZero(hn::RebindMask(di, hn::Le(cand, v)), hn::Set(di, TI(1) << (shift - 1))));
    }
    return idx;
  }

  // The scalar rule on every lane: the window [hi - 2, hi + 2) around lower_bound's position hi.
  HWY_INLINE V Window(V v, VI* index) const {
    const D d;
    const DI di;
    const VI hi = CountLt(levels_, nlev_, v);  // levels < v
    const VI lo = hn::Max(hn::Sub(hi, hn::Set(di, TI(2))), hn::Zero(di));
    const VI end = hn::Min(hn::Add(hi, hn::Set(di, TI(2))), hn::Set(di, static_cast<TI>(nlev_)));
    VI best = lo;
    V best_level = Lookup(lev_tab_, lo), best_rank = Lookup(rank_tab_, lo);
    V best_d = hn::Abs(hn::Sub(v, best_level));
    for (TI j = 1; j < 4; ++j) {  // the window is [lo, end), at most 4 levels
      const VI pos = hn::Add(lo, hn::Set(di, j));
      const auto inside = hn::RebindMask(d, hn::Lt(pos, end));
      const VI at = hn::Min(pos, hn::Set(di, static_cast<TI>(nlev_ - 1)));
      const V lev = Lookup(lev_tab_, at), rk = Lookup(rank_tab_, at);
      const V dist = hn::Abs(hn::Sub(v, lev));
      const auto better = hn::Or(hn::Lt(dist, best_d), hn::And(hn::Eq(dist, best_d), hn::Lt(rk, best_rank)));
      const auto take = hn::And(inside, better);
      best = hn::IfThenElse(hn::RebindMask(di, take), pos, best);
      best_d = hn::IfThenElse(take, dist, best_d);
      best_rank = hn::IfThenElse(take, rk, best_rank);
      best_level = hn::IfThenElse(take, lev, best_level);
    }
    *index = best;
    return best_level;
  }

  const T* levels_;
  const T* thresholds_;
  int64_t nlev_, tables_;
  V lev_tab_[kMaxTableVectors], rank_tab_[kMaxTableVectors];
  static constexpr int kMaxBisectSteps = 8;
  int bisect_steps_ = 0;
  V bisect_tab_[kMaxBisectSteps];
};
#endif

template <class T>
void NearestLevel(const T* HWY_RESTRICT x, int64_t n, const T* levels, const int32_t* rank, const T* thresholds,
                  int64_t nlev, T* HWY_RESTRICT value, int32_t* HWY_RESTRICT index) {
  int64_t i = 0;
#if HWY_TARGET != HWY_SCALAR
  const LevelTables<T> tables(levels, rank, thresholds, nlev);
  if (tables.usable()) {
    using D = typename LevelTables<T>::D;
    const D d;
    const typename LevelTables<T>::DI di;
    using TI = typename LevelTables<T>::TI;
    const int64_t L = static_cast<int64_t>(hn::Lanes(d));
    for (; i + L <= n; i += L) {
      typename LevelTables<T>::VI best;
      const auto level = tables.Nearest(hn::LoadU(d, x + i), &best);
      if (value) hn::StoreU(level, d, value + i);
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

// APoT's clipped straight-through value, the element-wise ops' steps through registers: r = x / a,
// c = clamp(r, lo, hi), q = p's projection of c (the nearest level of c or, symmetric, of |c| times
// sign(c); or round(clamp(c, -1 or 0, 1) * steps) / steps) and u = c + (q - c). The forward and the
// backward both run it, so the backward's u has the forward's bits without being stored.
template <class T>
class ClippedProjector {
 public:
  ClippedProjector(const LevelProjection<T>& p, T a, T lo, T hi)
      : p_(p),
        a_(a),
        lo_(lo),
        hi_(hi)
#if HWY_TARGET != HWY_SCALAR
        ,
        tables_(p.levels, p.tie_rank, p.thresholds, p.levels ? p.nlevels : 0)
#endif
  {
  }

  // each(d, i, r, u) for every vector (then one-lane vector) of x[0, n).
  template <class Each>
  void Run(const T* HWY_RESTRICT x, int64_t n, const Each& each) const {
    int64_t i = 0;
    if (!p_.levels) {
      ForEachVector<T>(n, [&](auto d, int64_t j) HWY_ATTR {
        const auto rv = Ratio(d, x + j);
        const auto cv = ClampTo(d, rv, lo_, hi_);
        each(d, j, rv, Straight(d, cv, OntoSteps(d, cv)));
      });
      return;
    }
#if HWY_TARGET != HWY_SCALAR
    if (tables_.usable()) {
      const hn::ScalableTag<T> d;
      const int64_t L = static_cast<int64_t>(hn::Lanes(d));
      for (; i + L <= n; i += L) {
        const auto rv = Ratio(d, x + i);
        const auto cv = ClampTo(d, rv, lo_, hi_);
        typename LevelTables<T>::VI index;
        each(d, i, rv, Straight(d, cv, tables_.Nearest(p_.symmetric ? hn::Abs(cv) : cv, &index)));
      }
    }
#endif
    const hn::CappedTag<T, 1> d1;
    for (; i < n; ++i) {
      const auto rv = Ratio(d1, x + i);
      const auto cv = ClampTo(d1, rv, lo_, hi_);
      const T c = hn::GetLane(cv), m = p_.symmetric ? std::abs(c) : c;
      const T q = p_.levels[NearestLevelScalar(m, p_.levels, p_.tie_rank, p_.nlevels)];
      each(d1, i, rv, Straight(d1, cv, hn::Set(d1, q)));
    }
  }

 private:
  template <class D>
  HWY_INLINE hn::Vec<D> Ratio(D d, const T* x) const {
    return hn::Div(hn::LoadU(d, x), hn::Set(d, a_));
  }
  template <class D>
  HWY_INLINE hn::Vec<D> OntoSteps(D d, hn::Vec<D> cv) const {
    const auto steps = hn::Set(d, p_.steps);
    const auto r = hn::Mul(ClampTo(d, cv, p_.symmetric ? T(-1) : T(0), T(1)), steps);
    return hn::Div(hn::CopySign(hn::Round(r), r), steps);
  }
  // u = c + (q - c), q the projection (of |c| for a symmetric level set, its sign restored here).
  template <class D>
  HWY_INLINE hn::Vec<D> Straight(D d, hn::Vec<D> cv, hn::Vec<D> qv) const {
    if (p_.levels && p_.symmetric) qv = hn::Mul(SignOf(d, cv), qv);
    return hn::Add(cv, hn::Sub(qv, cv));
  }

  const LevelProjection<T>& p_;
  T a_, lo_, hi_;
#if HWY_TARGET != HWY_SCALAR
  LevelTables<T> tables_;
#endif
};

// APoT's clipped straight-through quantizer: out = (u * a) * scale (u * a when scale is 1).
template <class T>
void ApotQuantize(const T* HWY_RESTRICT x, int64_t n, T a, T lo, T hi, T scale, const LevelProjection<T>& p,
                  T* HWY_RESTRICT out) {
  ClippedProjector<T>(p, a, lo, hi).Run(x, n, [&](auto d, int64_t i, auto, auto uv) HWY_ATTR {
    auto ov = hn::Mul(uv, hn::Set(d, a));
    if (scale != T(1)) ov = hn::Mul(ov, hn::Set(d, scale));
    hn::StoreU(ov, d, out + i);
  });
}

// Its gradients as autograd takes them through the product with `scale`, then div, clamp and mul:
// with gs = g * scale (g when scale is 1), r = x / a and gr = (lo <= r <= hi) ? gs * a : 0:
// gx = gr / a (when gx is not null), and a's gradient terms gs * u (through the product, u
// recomputed from x) and -((gr * r) / a) (through x / a), summed into sum_out and sum_ratio (when
// not null) in the order of reduce.cpp's sum through L1 blocks.
template <class T>
void ApotBackward(const T* HWY_RESTRICT g, const T* HWY_RESTRICT x, int64_t n, T a, T lo, T hi, T scale,
                  const LevelProjection<T>& p, T* HWY_RESTRICT gx, RowSum* sum_out, RowSum* sum_ratio) {
  auto scaled = [&](auto d, const T* gp) HWY_ATTR {  // gs
    const auto gv = hn::LoadU(d, gp);
    return scale != T(1) ? hn::Mul(gv, hn::Set(d, scale)) : gv;
  };
  auto clipped = [&](auto d, auto gv, auto rv) HWY_ATTR {  // gr
    const auto inside = hn::And(hn::Ge(rv, hn::Set(d, lo)), hn::Le(rv, hn::Set(d, hi)));
    return hn::IfThenElseZero(inside, hn::Mul(gv, hn::Set(d, a)));
  };
  if (!sum_out) {  // no threshold gradient: no projection either
    if (!gx) return;
    ForEachVector<T>(n, [&](auto d, int64_t i) HWY_ATTR {
      const auto rv = hn::Div(hn::LoadU(d, x + i), hn::Set(d, a));
      hn::StoreU(hn::Div(clipped(d, scaled(d, g + i), rv), hn::Set(d, a)), d, gx + i);
    });
    return;
  }
  const ClippedProjector<T> projector(p, a, lo, hi);
  constexpr int64_t kBlock = 512;  // a multiple of 4, as RowSum::add wants
  HWY_ALIGN T t_out[kBlock], t_ratio[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t len = std::min(kBlock, n - b);
    projector.Run(x + b, len, [&](auto d, int64_t i, auto rv, auto uv) HWY_ATTR {
      const auto av = hn::Set(d, a);
      const auto gv = scaled(d, g + b + i);
      const auto gr = clipped(d, gv, rv);
      if (gx) hn::StoreU(hn::Div(gr, av), d, gx + b + i);
      hn::StoreU(hn::Mul(gv, uv), d, t_out + i);
      hn::StoreU(hn::Neg(hn::Div(hn::Mul(gr, rv), av)), d, t_ratio + i);
    });
    sum_out->add(t_out, len);
    sum_ratio->add(t_ratio, len);
  }
}

template <class T>
void FillTyped(TypedKernels<T>& t) {
  t.max_pool_2x2 = MaxPool2x2<T>;
  t.nearest_level = NearestLevel<T>;
  t.apot_quantize = ApotQuantize<T>;
  t.apot_backward = ApotBackward<T>;
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
