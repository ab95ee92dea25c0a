// Plain parameter structs and op codes shared by every backend. No tensors here: kernels take raw
// buffers plus these descriptions.
#pragma once
#include <cstdint>

// Helpers below are shared with device code (backends/cuda/): callable on both sides under nvcc.
#ifdef __CUDACC__
#define SL_HOST_DEVICE __host__ __device__
#else
#define SL_HOST_DEVICE
#endif

namespace sl {

enum class BinaryOp : uint8_t { add, sub, mul, div, max, min, pow, eq, ne, lt, le, gt, ge, COUNT };

// Unary ops with a derivative rule in unary_backward (round/floor/ceil/sign have zero derivative).
enum class UnaryOp : uint8_t {
  neg, abs, sign, exp, log, log2, exp2, sqrt, round, floor, ceil,
  relu, relu6, sigmoid, tanh, reciprocal, square, COUNT
};

const char* binary_op_name(BinaryOp op);
const char* unary_op_name(UnaryOp op);

enum class ReduceOp : uint8_t { sum, max, COUNT };

// A reduction views the input as [outer, extent, inner] and reduces the middle dimension.
struct ReduceDims {
  int64_t outer, extent, inner;
};

struct Conv2dParams {
  int64_t n, cin, h, w;      // input
  int64_t cout, kh, kw;      // weight [cout, cin/groups, kh, kw]
  int64_t sh, sw, ph, pw, dh, dw, groups;
  int64_t ho, wo;            // output spatial size
};

struct Pool2dParams {
  int64_t n, c, h, w;
  int64_t kh, kw, sh, sw, ph, pw;
  int64_t ho, wo;
  bool count_include_pad;  // avg pool only (PyTorch default true)
};

// The offset channel c of C reads from in ShiftResNet's CUDA kernel: cyclic over the k*k
// neighbourhood (period k^2), the last C mod k^2 channels unshifted. Shared by every backend.
struct ShiftOffset {
  int64_t dy, dx;
};
SL_HOST_DEVICE inline ShiftOffset shift2d_offset(int64_t channel, int64_t channels, int64_t kernel, int64_t dilation) {
  int64_t k2 = kernel * kernel, shifted = channels / k2 * k2, half = kernel / 2;
  if (channel >= shifted) return {0, 0};
  return {dilation * ((channel / kernel) % kernel - half), dilation * (channel % kernel - half)};
}

struct BatchNormParams {
  int64_t n, c, inner;  // input viewed as [n, c, inner] (inner = H*W, or 1 for BatchNorm1d)
  double eps, momentum;
};

// PyTorch's running-statistics update for channel ch from the batch's mean and biased variance over
// m values (the running variance takes the unbiased one). Either pointer may be null.
template <class T>
SL_HOST_DEVICE inline void update_running_stats(const BatchNormParams& p, int64_t ch, double m, double mean, double var,
                                                T* rmean, T* rvar) {
  if (rmean) rmean[ch] = static_cast<T>((1 - p.momentum) * rmean[ch] + p.momentum * mean);
  if (rvar) {
    double unbiased = m > 1 ? var * m / (m - 1) : var;
    rvar[ch] = static_cast<T>((1 - p.momentum) * rvar[ch] + p.momentum * unbiased);
  }
}

// The projection q of APoT's clipped value c (Backend::apot_quantize), each step in the dtype as the
// element-wise ops take it: with levels, the nearest of them (the nearest_level contract), of |c| with
// c's sign restored, sign(c) * level(|c|), when symmetric; without, round(clamp(c, -1 or 0, 1) *
// steps) / steps (-1 when symmetric).
struct ApotProjection {
  const double* levels = nullptr;  // ascending
  const int32_t* tie_rank = nullptr;
  int64_t nlevels = 0;
  double steps = 0;
  bool symmetric = false;
};

// One optimizer step over a parameter's elements. The scalars are the ones the update formulas use,
// computed in double by the optimizer and cast to the parameter's dtype by the kernel (as PyTorch's
// CPU kernels do); `a + b * c` written fma(b, c, a) is one rounding, as in PyTorch's vectorised kernels.
struct SgdStep {
  double weight_decay;  // d = fma(p, weight_decay, g) when nonzero
  double momentum;      // buf = fma(d, 1 - dampening, buf * momentum), or d on the first step
  double dampening;
  double neg_lr;        // p = fma(d, neg_lr, p)
  bool nesterov;        // d = fma(buf, momentum, d)
  bool first;           // the momentum buffer is new
};

struct AdamStep {
  double beta1, beta2, eps;
  double l2;         // coupled weight decay (Adam): g = fma(p, l2, g) when nonzero
  double decay;      // decoupled weight decay (AdamW): p *= decay when `decoupled`
  bool decoupled;
  double bc2_sqrt;   // sqrt(1 - beta2^t)
  double neg_step;   // -lr / (1 - beta1^t)
};

struct RAdamStep {
  double beta1, beta2, eps;
  double decay;      // p = fma(p, decay, p) when nonzero (decay = -weight_decay * lr)
  bool rectified;    // p += neg_step * m / (sqrt(v) + eps), else p = fma(m, neg_step, p)
  double neg_step;
  bool sync;         // Lookahead (Ranger): slow = fma(p - slow, alpha, slow); p = slow
  double alpha;
};

}  // namespace sl
