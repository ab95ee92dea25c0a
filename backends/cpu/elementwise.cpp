// Element-wise kernels: broadcasting binary ops, unary ops and their derivatives, clamp.
#include <algorithm>
#include <cmath>

#include "backends/broadcast.h"
#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"

namespace sl::cpu {

namespace {

template <class T, class F>
void binary_walk(const BroadcastPlan& p, const T* a, const T* b, T* out, F f) {
  if (p.numel == 0) return;
  int nd = p.ndim;
  if (nd == 0) {  // all dims of size 1
    out[0] = f(a[0], b[0]);
    return;
  }
  const int64_t inner = p.size[nd - 1];
  const int64_t ia = p.stride_a[nd - 1], ib = p.stride_b[nd - 1];
  parallel_for(p.numel, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    // Position of `begin` as a multi-index over the outer dims and a column in the inner one.
    int64_t idx[kMaxBroadcastDims] = {};
    int64_t row = begin / inner, col = begin % inner;
    int64_t off_a = 0, off_b = 0;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = row % p.size[d];
      row /= p.size[d];
      off_a += idx[d] * p.stride_a[d];
      off_b += idx[d] * p.stride_b[d];
    }
    int64_t i = begin;
    while (i < end) {
      int64_t len = std::min(inner - col, end - i);
      const T* pa = a + off_a + col * ia;
      const T* pb = b + off_b + col * ib;
      T* po = out + i;
      // Specialised inner loops so the common cases vectorise.
      if (ia == 1 && ib == 1) {
        for (int64_t j = 0; j < len; ++j) po[j] = f(pa[j], pb[j]);
      } else if (ia == 1 && ib == 0) {
        T vb = pb[0];
        for (int64_t j = 0; j < len; ++j) po[j] = f(pa[j], vb);
      } else if (ia == 0 && ib == 1) {
        T va = pa[0];
        for (int64_t j = 0; j < len; ++j) po[j] = f(va, pb[j]);
      } else {
        for (int64_t j = 0; j < len; ++j) po[j] = f(pa[j * ia], pb[j * ib]);
      }
      i += len;
      col = 0;
      // Advance the outer multi-index by one row.
      for (int d = nd - 2; d >= 0; --d) {
        off_a += p.stride_a[d];
        off_b += p.stride_b[d];
        if (++idx[d] < p.size[d]) break;
        off_a -= idx[d] * p.stride_a[d];
        off_b -= idx[d] * p.stride_b[d];
        idx[d] = 0;
      }
    }
  });
}

template <class T>
void binary_typed(BinaryOp op, const T* a, const T* b, T* o, const BroadcastPlan& p) {
  switch (op) {
    case BinaryOp::add: return binary_walk(p, a, b, o, [](T x, T y) { return x + y; });
    case BinaryOp::sub: return binary_walk(p, a, b, o, [](T x, T y) { return x - y; });
    case BinaryOp::mul: return binary_walk(p, a, b, o, [](T x, T y) { return x * y; });
    case BinaryOp::div: return binary_walk(p, a, b, o, [](T x, T y) { return x / y; });
    // NaN propagates from either side, as torch.maximum/minimum.
    case BinaryOp::max: return binary_walk(p, a, b, o, [](T x, T y) { return (x != x || x > y) ? x : y; });
    case BinaryOp::min: return binary_walk(p, a, b, o, [](T x, T y) { return (x != x || x < y) ? x : y; });
    case BinaryOp::pow: return binary_walk(p, a, b, o, [](T x, T y) { return std::pow(x, y); });
    case BinaryOp::eq: return binary_walk(p, a, b, o, [](T x, T y) { return T(x == y); });
    case BinaryOp::ne: return binary_walk(p, a, b, o, [](T x, T y) { return T(x != y); });
    case BinaryOp::lt: return binary_walk(p, a, b, o, [](T x, T y) { return T(x < y); });
    case BinaryOp::le: return binary_walk(p, a, b, o, [](T x, T y) { return T(x <= y); });
    case BinaryOp::gt: return binary_walk(p, a, b, o, [](T x, T y) { return T(x > y); });
    case BinaryOp::ge: return binary_walk(p, a, b, o, [](T x, T y) { return T(x >= y); });
    default: fail("binary: invalid op");
  }
}

void binary(BinaryOp op, DType dt, const void* a, const Shape& as, const void* b, const Shape& bs, void* out,
            const Shape& os) {
  BroadcastPlan p = plan_broadcast(as, bs, os);
  dispatch_floating(dt, binary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    binary_typed<T>(op, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out), p);
  });
}

template <class T, class F>
void map(const T* x, T* y, int64_t n, F f) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
  });
}

template <class T>
void unary_typed(UnaryOp op, const T* x, T* y, int64_t n) {
  switch (op) {
    case UnaryOp::neg: return map(x, y, n, [](T v) { return -v; });
    case UnaryOp::abs: return map(x, y, n, [](T v) { return std::abs(v); });
    case UnaryOp::sign: return map(x, y, n, [](T v) { return T((v > 0) - (v < 0)); });
    case UnaryOp::exp: return map(x, y, n, [](T v) { return std::exp(v); });
    case UnaryOp::log: return map(x, y, n, [](T v) { return std::log(v); });
    case UnaryOp::log2: return map(x, y, n, [](T v) { return std::log2(v); });
    case UnaryOp::exp2: return map(x, y, n, [](T v) { return std::exp2(v); });
    case UnaryOp::sqrt: return map(x, y, n, [](T v) { return std::sqrt(v); });
    // nearbyint in the default rounding mode rounds half to even, as torch.round.
    case UnaryOp::round: return map(x, y, n, [](T v) { return std::nearbyint(v); });
    case UnaryOp::floor: return map(x, y, n, [](T v) { return std::floor(v); });
    case UnaryOp::ceil: return map(x, y, n, [](T v) { return std::ceil(v); });
    case UnaryOp::relu: return map(x, y, n, [](T v) { return v < 0 ? T(0) : v; });
    case UnaryOp::relu6: return map(x, y, n, [](T v) { return v < 0 ? T(0) : (v > 6 ? T(6) : v); });
    case UnaryOp::sigmoid: return map(x, y, n, [](T v) { return T(1) / (T(1) + std::exp(-v)); });
    case UnaryOp::tanh: return map(x, y, n, [](T v) { return std::tanh(v); });
    case UnaryOp::reciprocal: return map(x, y, n, [](T v) { return T(1) / v; });
    case UnaryOp::square: return map(x, y, n, [](T v) { return v * v; });
    default: fail("unary: invalid op");
  }
}

void unary(UnaryOp op, DType dt, const void* x, void* y, int64_t n) {
  dispatch_floating(dt, unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    unary_typed<T>(op, static_cast<const T*>(x), static_cast<T*>(y), n);
  });
}

// gx[i] = f(x[i], y[i], gy[i]).
template <class T, class F>
void map3(const T* x, const T* y, const T* gy, T* gx, int64_t n, F f) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) gx[i] = f(x[i], y[i], gy[i]);
  });
}

template <class T>
void unary_backward_typed(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, int64_t n) {
  const T ln2 = T(0.6931471805599453);
  switch (op) {
    case UnaryOp::neg: return map3(x, y, gy, gx, n, [](T, T, T g) { return -g; });
    case UnaryOp::abs: return map3(x, y, gy, gx, n, [](T v, T, T g) { return g * T((v > 0) - (v < 0)); });
    case UnaryOp::sign:
    case UnaryOp::round:
    case UnaryOp::floor:
    case UnaryOp::ceil: return map3(x, y, gy, gx, n, [](T, T, T) { return T(0); });
    case UnaryOp::exp: return map3(x, y, gy, gx, n, [](T, T r, T g) { return g * r; });
    case UnaryOp::log: return map3(x, y, gy, gx, n, [](T v, T, T g) { return g / v; });
    case UnaryOp::log2: return map3(x, y, gy, gx, n, [ln2](T v, T, T g) { return g / (v * ln2); });
    case UnaryOp::exp2: return map3(x, y, gy, gx, n, [ln2](T, T r, T g) { return g * r * ln2; });
    case UnaryOp::sqrt: return map3(x, y, gy, gx, n, [](T, T r, T g) { return g / (T(2) * r); });
    case UnaryOp::relu: return map3(x, y, gy, gx, n, [](T v, T, T g) { return v > 0 ? g : T(0); });
    case UnaryOp::relu6: return map3(x, y, gy, gx, n, [](T v, T, T g) { return (v > 0 && v < 6) ? g : T(0); });
    case UnaryOp::sigmoid: return map3(x, y, gy, gx, n, [](T, T r, T g) { return g * r * (T(1) - r); });
    case UnaryOp::tanh: return map3(x, y, gy, gx, n, [](T, T r, T g) { return g * (T(1) - r * r); });
    case UnaryOp::reciprocal: return map3(x, y, gy, gx, n, [](T, T r, T g) { return -g * r * r; });
    case UnaryOp::square: return map3(x, y, gy, gx, n, [](T v, T, T g) { return T(2) * v * g; });
    default: fail("unary_backward: invalid op");
  }
}

void unary_backward(UnaryOp op, DType dt, const void* x, const void* y, const void* gy, void* gx, int64_t n) {
  dispatch_floating(dt, unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    unary_backward_typed<T>(op, static_cast<const T*>(x), static_cast<const T*>(y), static_cast<const T*>(gy),
                            static_cast<T*>(gx), n);
  });
}

void clamp(DType dt, const void* x, void* y, int64_t n, double lo, double hi) {
  dispatch_floating(dt, "clamp", [&](auto tag) {
    using T = decltype(tag);
    T l = static_cast<T>(lo), h = static_cast<T>(hi);
    map(static_cast<const T*>(x), static_cast<T*>(y), n, [l, h](T v) { return v < l ? l : (v > h ? h : v); });
  });
}

void clamp_backward(DType dt, const void* x, const void* gy, void* gx, int64_t n, double lo, double hi) {
  dispatch_floating(dt, "clamp_backward", [&](auto tag) {
    using T = decltype(tag);
    T l = static_cast<T>(lo), h = static_cast<T>(hi);
    const T* xs = static_cast<const T*>(x);
    map3(xs, xs, static_cast<const T*>(gy), static_cast<T*>(gx), n,
         [l, h](T v, T, T g) { return (v >= l && v <= h) ? g : T(0); });
  });
}

}  // namespace

void register_elementwise(Backend& b) {
  b.binary = binary;
  b.unary = unary;
  b.unary_backward = unary_backward;
  b.clamp = clamp;
  b.clamp_backward = clamp_backward;
}

}  // namespace sl::cpu
