// Element-wise kernels: broadcasting binary ops, unary ops and their derivatives, clamp. The loops
// are the per-target kernels of simd/elementwise_kernels.cpp; this file splits the work over threads
// and walks the broadcast dimensions.
#include <algorithm>

#include "backends/broadcast.h"
#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/simd/kernels.h"

namespace sl::cpu {

namespace {

template <class T>
void binary_typed(BinaryOp op, const T* a, const T* b, T* out, const BroadcastPlan& p) {
  if (p.numel == 0) return;
  const auto run = simd().typed<T>().binary;
  const int nd = p.ndim;
  if (nd == 0) {  // all dims of size 1
    run(op, a, 0, b, 0, out, 1);
    return;
  }
  const int64_t inner = p.size[nd - 1];
  // Inputs are contiguous, so along the innermost dimension each steps by 1, or by 0 where broadcast.
  const int64_t ia = p.stride_a[nd - 1], ib = p.stride_b[nd - 1];
  SL_CHECK(ia <= 1 && ib <= 1, "binary: unexpected inner strides {} and {}", ia, ib);
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
      const int64_t len = std::min(inner - col, end - i);
      run(op, a + off_a + col * ia, ia, b + off_b + col * ib, ib, out + i, len);
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

void binary(BinaryOp op, DType dt, const void* a, const Shape& as, const void* b, const Shape& bs, void* out,
            const Shape& os) {
  SL_CHECK(op < BinaryOp::COUNT, "binary: invalid op");
  BroadcastPlan p = plan_broadcast(as, bs, os);
  dispatch_floating(dt, binary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    binary_typed<T>(op, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out), p);
  });
}

void unary(UnaryOp op, DType dt, const void* x, void* y, int64_t n) {
  SL_CHECK(op < UnaryOp::COUNT, "unary: invalid op");
  dispatch_floating(dt, unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    const auto run = simd().typed<T>().unary;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) { run(op, xs + b, ys + b, e - b); });
  });
}

void unary_backward(UnaryOp op, DType dt, const void* x, const void* y, const void* gy, void* gx, int64_t n) {
  SL_CHECK(op < UnaryOp::COUNT, "unary_backward: invalid op");
  dispatch_floating(dt, unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    const T *xs = static_cast<const T*>(x), *ys = static_cast<const T*>(y), *gys = static_cast<const T*>(gy);
    T* gxs = static_cast<T*>(gx);
    const auto run = simd().typed<T>().unary_backward;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) { run(op, xs + b, ys + b, gys + b, gxs + b, e - b); });
  });
}

void clamp(DType dt, const void* x, void* y, int64_t n, double lo, double hi) {
  dispatch_floating(dt, "clamp", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    const auto run = simd().typed<T>().clamp;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) { run(xs + b, ys + b, e - b, static_cast<T>(lo), static_cast<T>(hi)); });
  });
}

void clamp_backward(DType dt, const void* x, const void* gy, void* gx, int64_t n, double lo, double hi) {
  dispatch_floating(dt, "clamp_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *xs = static_cast<const T*>(x), *gys = static_cast<const T*>(gy);
    T* gxs = static_cast<T*>(gx);
    const auto run = simd().typed<T>().clamp_backward;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) { run(xs + b, gys + b, gxs + b, e - b, static_cast<T>(lo), static_cast<T>(hi)); });
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
