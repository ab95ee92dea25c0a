// Element-wise kernels per SIMD target: unary ops and their derivatives, binary ops (same-shape or
// with a broadcast scalar), clamp. Each element takes the same IEEE operations on every target, so
// results are bitwise identical across targets; exp, log, log2, exp2, sigmoid, tanh and pow call the
// C library per element (they have no exactly-rounded vector form).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/elementwise_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>

#include "backends/cpu/simd/kernels.h"
#include "backends/cpu/simd/map-inl.h"
#include "backends/cpu/simd/transpose-inl.h"
#include "engine/error.h"

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

template <class D, class V>
HWY_INLINE V One(D d, V) {
  return hn::Set(d, hn::TFromD<D>(1));
}

// T((v > 0) - (v < 0)); 0 for NaN.
template <class D, class V>
HWY_INLINE V Sign(D d, V v) {
  const V zero = hn::Zero(d);
  return hn::Sub(hn::IfThenElseZero(hn::Gt(v, zero), One(d, v)), hn::IfThenElseZero(hn::Lt(v, zero), One(d, v)));
}

template <class T, class F>
void Scalar(const T* HWY_RESTRICT x, T* HWY_RESTRICT y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <class T>
void Unary(UnaryOp op, const T* HWY_RESTRICT x, T* HWY_RESTRICT y, int64_t n) {
  switch (op) {
    case UnaryOp::neg: return Map(y, n, [](auto, auto v) HWY_ATTR { return hn::Neg(v); }, x);
    case UnaryOp::abs: return Map(y, n, [](auto, auto v) HWY_ATTR { return hn::Abs(v); }, x);
    case UnaryOp::sign: return Map(y, n, [](auto d, auto v) HWY_ATTR { return Sign(d, v); }, x);
    case UnaryOp::sqrt: return Map(y, n, [](auto, auto v) HWY_ATTR { return hn::Sqrt(v); }, x);
    // Round: to nearest, ties to even, as torch.round and std::nearbyint. The result always has the
    // sign of v; CopySign restores it where Highway's emulated target loses it on zeros (round(-0.5)).
    case UnaryOp::round: return Map(y, n, [](auto, auto v) HWY_ATTR { return hn::CopySign(hn::Round(v), v); }, x);
    case UnaryOp::floor: return Map(y, n, [](auto, auto v) HWY_ATTR { return hn::CopySign(hn::Floor(v), v); }, x);
    case UnaryOp::ceil: return Map(y, n, [](auto, auto v) HWY_ATTR { return hn::CopySign(hn::Ceil(v), v); }, x);
    // v < 0 ? 0 : v, so NaN passes through.
    case UnaryOp::relu:
      return Map(y, n, [](auto d, auto v) HWY_ATTR { return hn::IfThenZeroElse(hn::Lt(v, hn::Zero(d)), v); }, x);
    case UnaryOp::relu6:
      return Map(y, n, [](auto d, auto v) HWY_ATTR {
        const auto six = hn::Set(d, hn::TFromD<decltype(d)>(6));
        return hn::IfThenZeroElse(hn::Lt(v, hn::Zero(d)), hn::IfThenElse(hn::Gt(v, six), six, v));
      }, x);
    case UnaryOp::reciprocal: return Map(y, n, [](auto d, auto v) HWY_ATTR { return hn::Div(One(d, v), v); }, x);
    case UnaryOp::square: return Map(y, n, [](auto, auto v) HWY_ATTR { return hn::Mul(v, v); }, x);
    case UnaryOp::exp: return Scalar(x, y, n, [](T v) { return std::exp(v); });
    case UnaryOp::log: return Scalar(x, y, n, [](T v) { return std::log(v); });
    case UnaryOp::log2: return Scalar(x, y, n, [](T v) { return std::log2(v); });
    case UnaryOp::exp2: return Scalar(x, y, n, [](T v) { return std::exp2(v); });
    case UnaryOp::sigmoid: return Scalar(x, y, n, [](T v) { return T(1) / (T(1) + std::exp(-v)); });
    case UnaryOp::tanh: return Scalar(x, y, n, [](T v) { return std::tanh(v); });
    default: fail("unary: invalid op");
  }
}

// gx = gy * d op(x) / dx from x, y = op(x) and gy.
template <class T>
void UnaryBackward(UnaryOp op, const T* HWY_RESTRICT x, const T* HWY_RESTRICT y, const T* HWY_RESTRICT gy,
                   T* HWY_RESTRICT gx, int64_t n) {
  const T ln2 = T(0.6931471805599453);
  auto run = [&](const auto& f) HWY_ATTR { Map(gx, n, f, x, y, gy); };
  switch (op) {
    case UnaryOp::neg: return run([](auto, auto, auto, auto g) HWY_ATTR { return hn::Neg(g); });
    case UnaryOp::abs: return run([](auto d, auto v, auto, auto g) HWY_ATTR { return hn::Mul(g, Sign(d, v)); });
    case UnaryOp::sign:
    case UnaryOp::round:
    case UnaryOp::floor:
    case UnaryOp::ceil: return run([](auto d, auto, auto, auto) HWY_ATTR { return hn::Zero(d); });
    case UnaryOp::exp: return run([](auto, auto, auto r, auto g) HWY_ATTR { return hn::Mul(g, r); });
    case UnaryOp::log: return run([](auto, auto v, auto, auto g) HWY_ATTR { return hn::Div(g, v); });
    case UnaryOp::log2:
      return run([ln2](auto d, auto v, auto, auto g) HWY_ATTR { return hn::Div(g, hn::Mul(v, hn::Set(d, ln2))); });
    case UnaryOp::exp2:
      return run([ln2](auto d, auto, auto r, auto g) HWY_ATTR { return hn::Mul(hn::Mul(g, r), hn::Set(d, ln2)); });
    case UnaryOp::sqrt:
      return run([](auto d, auto, auto r, auto g) HWY_ATTR { return hn::Div(g, hn::Mul(hn::Set(d, T(2)), r)); });
    case UnaryOp::relu:
      return run([](auto d, auto v, auto, auto g) HWY_ATTR { return hn::IfThenElseZero(hn::Gt(v, hn::Zero(d)), g); });
    case UnaryOp::relu6:
      return run([](auto d, auto v, auto, auto g) HWY_ATTR {
        return hn::IfThenElseZero(hn::And(hn::Gt(v, hn::Zero(d)), hn::Lt(v, hn::Set(d, T(6)))), g);
      });
    case UnaryOp::sigmoid:
      return run([](auto d, auto, auto r, auto g) HWY_ATTR { return hn::Mul(hn::Mul(g, r), hn::Sub(One(d, r), r)); });
    case UnaryOp::tanh:
      return run([](auto d, auto, auto r, auto g) HWY_ATTR { return hn::Mul(g, hn::Sub(One(d, r), hn::Mul(r, r))); });
    case UnaryOp::reciprocal:
      return run([](auto, auto, auto r, auto g) HWY_ATTR { return hn::Mul(hn::Mul(hn::Neg(g), r), r); });
    case UnaryOp::square:
      return run([](auto d, auto v, auto, auto g) HWY_ATTR { return hn::Mul(hn::Mul(hn::Set(d, T(2)), v), g); });
    default: fail("unary_backward: invalid op");
  }
}

// out[i] = f(a[i * sa], b[i * sb]) with steps 0 (a broadcast scalar) or 1.
template <class T, class F>
void BinaryWith(const F& f, const T* HWY_RESTRICT a, int64_t sa, const T* HWY_RESTRICT b, int64_t sb,
                T* HWY_RESTRICT out, int64_t n) {
  if (sa == 1 && sb == 1) return Map(out, n, f, a, b);
  if (sa == 1) {
    const T vb = b[0];
    return Map(out, n, [&f, vb](auto d, auto x) HWY_ATTR { return f(d, x, hn::Set(d, vb)); }, a);
  }
  const T va = a[0];
  if (sb == 1) return Map(out, n, [&f, va](auto d, auto y) HWY_ATTR { return f(d, hn::Set(d, va), y); }, b);
  const T vb = b[0];
  const hn::CappedTag<T, 1> d1;
  const T v = hn::GetLane(f(d1, hn::Set(d1, va), hn::Set(d1, vb)));
  for (int64_t i = 0; i < n; ++i) out[i] = v;
}

template <class T>
void Binary(BinaryOp op, const T* a, int64_t sa, const T* b, int64_t sb, T* out, int64_t n) {
  auto run = [&](const auto& f) HWY_ATTR { BinaryWith<T>(f, a, sa, b, sb, out, n); };
  auto flag = [](auto d, auto m) HWY_ATTR { return hn::IfThenElseZero(m, hn::Set(d, T(1))); };
  switch (op) {
    case BinaryOp::add: return run([](auto, auto x, auto y) HWY_ATTR { return hn::Add(x, y); });
    case BinaryOp::sub: return run([](auto, auto x, auto y) HWY_ATTR { return hn::Sub(x, y); });
    case BinaryOp::mul: return run([](auto, auto x, auto y) HWY_ATTR { return hn::Mul(x, y); });
    case BinaryOp::div: return run([](auto, auto x, auto y) HWY_ATTR { return hn::Div(x, y); });
    // NaN propagates from either side, as torch.maximum/minimum: x if x is NaN or wins, else y.
    case BinaryOp::max:
      return run([](auto, auto x, auto y) HWY_ATTR { return hn::IfThenElse(hn::Or(hn::IsNaN(x), hn::Gt(x, y)), x, y); });
    case BinaryOp::min:
      return run([](auto, auto x, auto y) HWY_ATTR { return hn::IfThenElse(hn::Or(hn::IsNaN(x), hn::Lt(x, y)), x, y); });
    case BinaryOp::eq: return run([&](auto d, auto x, auto y) HWY_ATTR { return flag(d, hn::Eq(x, y)); });
    // Not(Eq), not Ne: Highway's Ne is ordered on AVX-512 (false for NaN) but not on AVX2; C++'s != is
    // true for NaN.
    case BinaryOp::ne: return run([&](auto d, auto x, auto y) HWY_ATTR { return flag(d, hn::Not(hn::Eq(x, y))); });
    case BinaryOp::lt: return run([&](auto d, auto x, auto y) HWY_ATTR { return flag(d, hn::Lt(x, y)); });
    case BinaryOp::le: return run([&](auto d, auto x, auto y) HWY_ATTR { return flag(d, hn::Le(x, y)); });
    case BinaryOp::gt: return run([&](auto d, auto x, auto y) HWY_ATTR { return flag(d, hn::Gt(x, y)); });
    case BinaryOp::ge: return run([&](auto d, auto x, auto y) HWY_ATTR { return flag(d, hn::Ge(x, y)); });
    case BinaryOp::pow:
      for (int64_t i = 0; i < n; ++i) out[i] = std::pow(a[i * sa], b[i * sb]);
      return;
    default: fail("binary: invalid op");
  }
}

// v < lo ? lo : (v > hi ? hi : v), so NaN passes through.
template <class T>
void Clamp(const T* HWY_RESTRICT x, T* HWY_RESTRICT y, int64_t n, T lo, T hi) {
  Map(y, n, [lo, hi](auto d, auto v) HWY_ATTR {
    const auto l = hn::Set(d, lo), h = hn::Set(d, hi);
    return hn::IfThenElse(hn::Lt(v, l), l, hn::IfThenElse(hn::Gt(v, h), h, v));
  }, x);
}

// gx = gy where lo <= x <= hi, else 0.
template <class T>
void ClampBackward(const T* HWY_RESTRICT x, const T* HWY_RESTRICT gy, T* HWY_RESTRICT gx, int64_t n, T lo, T hi) {
  Map(gx, n, [lo, hi](auto d, auto v, auto g) HWY_ATTR {
    return hn::IfThenElseZero(hn::And(hn::Ge(v, hn::Set(d, lo)), hn::Le(v, hn::Set(d, hi))), g);
  }, x, gy);
}

template <class T>
void GatherStride2(const T* HWY_RESTRICT src, T* HWY_RESTRICT dst, int64_t n) {
  int64_t i = 0;
#if HWY_TARGET != HWY_SCALAR  // one-lane vectors have no even lanes to pick
  const hn::ScalableTag<T> d;
  const int64_t L = static_cast<int64_t>(hn::Lanes(d));
  // The second load ends at src[2 (i + L) - 1], inside the row while i + L < n.
  for (; i + L < n; i += L) hn::StoreU(hn::ConcatEven(d, hn::LoadU(d, src + 2 * i + L), hn::LoadU(d, src + 2 * i)), d, dst + i);
#endif
  for (; i < n; ++i) dst[i] = src[2 * i];
}

template <class T>
void FillTyped(TypedKernels<T>& t) {
  t.gather_stride2 = GatherStride2<T>;
  t.transpose = Transpose<T>;
  t.unary = Unary<T>;
  t.unary_backward = UnaryBackward<T>;
  t.binary = Binary<T>;
  t.clamp = Clamp<T>;
  t.clamp_backward = ClampBackward<T>;
}

}  // namespace

void FillElementwiseKernels(SimdKernels* k) {
  FillTyped(k->f32);
  FillTyped(k->f64);
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::cpu {
HWY_EXPORT(FillElementwiseKernels);
void fill_elementwise_kernels(SimdKernels& k) { HWY_DYNAMIC_DISPATCH(FillElementwiseKernels)(&k); }
}  // namespace sl::cpu
#endif
