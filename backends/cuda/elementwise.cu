// Element-wise kernels on the GPU: the twins of backends/cpu/elementwise.cpp (same op codes, same
// broadcasting plan, same NaN and rounding rules: max/min propagate NaN, round is half to even).
#include "backends/broadcast.h"
#include "backends/cuda/common.cuh"

namespace sl::cuda {

namespace {

template <class T>
__device__ T binary_apply(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::add: return x + y;
    case BinaryOp::sub: return x - y;
    case BinaryOp::mul: return x * y;
    case BinaryOp::div: return x / y;
    case BinaryOp::max: return (x != x || x > y) ? x : y;
    case BinaryOp::min: return (x != x || x < y) ? x : y;
    case BinaryOp::pow: return pow(x, y);
    case BinaryOp::eq: return T(x == y);
    case BinaryOp::ne: return T(x != y);
    case BinaryOp::lt: return T(x < y);
    case BinaryOp::le: return T(x <= y);
    case BinaryOp::gt: return T(x > y);
    case BinaryOp::ge: return T(x >= y);
    default: return T(0);
  }
}

template <class T>
__global__ void binary_kernel(BinaryOp op, const T* a, const T* b, T* out, BroadcastPlan p) {
  SL_CUDA_LOOP(i, p.numel) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int d = p.ndim - 1; d >= 0; --d) {
      int64_t idx = rem % p.size[d];
      rem /= p.size[d];
      oa += idx * p.stride_a[d];
      ob += idx * p.stride_b[d];
    }
    out[i] = binary_apply(op, a[oa], b[ob]);
  }
}

template <class T>
__device__ T unary_apply(UnaryOp op, T v) {
  switch (op) {
    case UnaryOp::neg: return -v;
    case UnaryOp::abs: return fabs(v);  // as std::abs: -0 -> +0
    case UnaryOp::sign: return T((v > T(0)) - (v < T(0)));
    case UnaryOp::exp: return exp(v);
    case UnaryOp::log: return log(v);
    case UnaryOp::log2: return log2(v);
    case UnaryOp::exp2: return exact_exp2(v);
    case UnaryOp::sqrt: return sqrt(v);
    case UnaryOp::round: return rint(v);  // half to even
    case UnaryOp::floor: return floor(v);
    case UnaryOp::ceil: return ceil(v);
    case UnaryOp::relu: return v < T(0) ? T(0) : v;
    case UnaryOp::relu6: return v < T(0) ? T(0) : (v > T(6) ? T(6) : v);
    case UnaryOp::sigmoid: return T(1) / (T(1) + exp(-v));
    case UnaryOp::tanh: return tanh(v);
    case UnaryOp::reciprocal: return T(1) / v;
    case UnaryOp::square: return v * v;
    default: return T(0);
  }
}

template <class T>
__device__ T unary_grad(UnaryOp op, T x, T y, T g) {
  const T ln2 = T(0.6931471805599453);
  switch (op) {
    case UnaryOp::neg: return -g;
    case UnaryOp::abs: return g * T((x > T(0)) - (x < T(0)));
    case UnaryOp::exp: return g * y;
    case UnaryOp::log: return g / x;
    case UnaryOp::log2: return g / (x * ln2);
    case UnaryOp::exp2: return g * y * ln2;
    case UnaryOp::sqrt: return g / (T(2) * y);
    case UnaryOp::relu: return x > T(0) ? g : T(0);
    case UnaryOp::relu6: return (x > T(0) && x < T(6)) ? g : T(0);
    case UnaryOp::sigmoid: return g * y * (T(1) - y);
    case UnaryOp::tanh: return g * (T(1) - y * y);
    case UnaryOp::reciprocal: return -g * y * y;
    case UnaryOp::square: return T(2) * x * g;
    default: return T(0);  // sign, round, floor, ceil
  }
}

template <class T>
__global__ void unary_kernel(UnaryOp op, const T* x, T* y, int64_t n) {
  SL_CUDA_LOOP(i, n) { y[i] = unary_apply(op, x[i]); }
}

template <class T>
__global__ void unary_backward_kernel(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, int64_t n) {
  SL_CUDA_LOOP(i, n) { gx[i] = unary_grad(op, x[i], y[i], gy[i]); }
}

template <class T>
__global__ void clamp_kernel(const T* x, T* y, int64_t n, T lo, T hi) {
  SL_CUDA_LOOP(i, n) {
    T v = x[i];
    y[i] = v < lo ? lo : (v > hi ? hi : v);
  }
}

template <class T>
__global__ void clamp_backward_kernel(const T* x, const T* gy, T* gx, int64_t n, T lo, T hi) {
  SL_CUDA_LOOP(i, n) { gx[i] = (x[i] >= lo && x[i] <= hi) ? gy[i] : T(0); }
}

void binary(BinaryOp op, DType dt, const void* a, const Shape& as, const void* b, const Shape& bs, void* out,
            const Shape& os) {
  BroadcastPlan p = plan_broadcast(as, bs, os);
  if (p.numel == 0) return;
  dispatch_floating(dt, binary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    binary_kernel<T><<<blocks_for(p.numel), kThreads, 0, stream()>>>(op, static_cast<const T*>(a),
                                                                     static_cast<const T*>(b), static_cast<T*>(out), p);
    SL_CUDA_CHECK_LAUNCH();
  });
}

void unary(UnaryOp op, DType dt, const void* x, void* y, int64_t n) {
  if (n <= 0) return;
  dispatch_floating(dt, unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    unary_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(op, static_cast<const T*>(x), static_cast<T*>(y), n);
    SL_CUDA_CHECK_LAUNCH();
  });
}

void unary_backward(UnaryOp op, DType dt, const void* x, const void* y, const void* gy, void* gx, int64_t n) {
  if (n <= 0) return;
  dispatch_floating(dt, unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    unary_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        op, static_cast<const T*>(x), static_cast<const T*>(y), static_cast<const T*>(gy), static_cast<T*>(gx), n);
    SL_CUDA_CHECK_LAUNCH();
  });
}

void clamp(DType dt, const void* x, void* y, int64_t n, double lo, double hi) {
  if (n <= 0) return;
  dispatch_floating(dt, "clamp", [&](auto tag) {
    using T = decltype(tag);
    clamp_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const T*>(x), static_cast<T*>(y), n,
                                                              static_cast<T>(lo), static_cast<T>(hi));
    SL_CUDA_CHECK_LAUNCH();
  });
}

void clamp_backward(DType dt, const void* x, const void* gy, void* gx, int64_t n, double lo, double hi) {
  if (n <= 0) return;
  dispatch_floating(dt, "clamp_backward", [&](auto tag) {
    using T = decltype(tag);
    clamp_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const T*>(x),
                                                                       static_cast<const T*>(gy), static_cast<T*>(gx),
                                                                       n, static_cast<T>(lo), static_cast<T>(hi));
    SL_CUDA_CHECK_LAUNCH();
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

}  // namespace sl::cuda
