// The kernel interface: one Backend per device, each a table of Kernel slots. Ops in autograd/ call
// `backend(tensor.device()).<kernel>(...)`; this lookup is the only place a device is dispatched on.
// Buffers are raw pointers to contiguous row-major data on that backend's device; sizes are elements.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/kernel.h"
#include "backends/params.h"
#include "engine/dtype.h"
#include "engine/shape.h"

namespace sl {

struct Backend {
  explicit Backend(Device d) : device(d) {}
  Device device;
#define SL_KERNEL(name, ...) Kernel<__VA_ARGS__> name{#name, device}

  // Memory (64-byte aligned) and copies.
  SL_KERNEL(alloc, void*(size_t nbytes));
  SL_KERNEL(free, void(void* ptr));
  SL_KERNEL(copy, void(void* dst, const void* src, size_t nbytes));  // within this device
  SL_KERNEL(copy_from_host, void(void* dst, const void* host_src, size_t nbytes));
  SL_KERNEL(copy_to_host, void(void* host_dst, const void* src, size_t nbytes));
  SL_KERNEL(synchronize, void());

  // Element-wise.
  SL_KERNEL(fill, void(DType dt, void* out, int64_t n, double value));
  SL_KERNEL(cast, void(DType from, const void* x, DType to, void* y, int64_t n));
  SL_KERNEL(binary, void(BinaryOp op, DType dt, const void* a, const Shape& a_shape, const void* b,
                         const Shape& b_shape, void* out, const Shape& out_shape));
  SL_KERNEL(unary, void(UnaryOp op, DType dt, const void* x, void* y, int64_t n));
  // gx = gy * d op(x)/dx, given x and y = op(x).
  SL_KERNEL(unary_backward,
            void(UnaryOp op, DType dt, const void* x, const void* y, const void* gy, void* gx, int64_t n));
  SL_KERNEL(clamp, void(DType dt, const void* x, void* y, int64_t n, double lo, double hi));
  // gx = gy where lo <= x <= hi, else 0 (PyTorch's clamp gradient).
  SL_KERNEL(clamp_backward,
            void(DType dt, const void* x, const void* gy, void* gx, int64_t n, double lo, double hi));

  // Layout.
  SL_KERNEL(permute, void(DType dt, const void* x, const Shape& x_shape, const std::vector<int64_t>& perm,
                          void* y));
  // Copies `rows` rows of `cols` elements from src (row pitch src_ld) to dst (row pitch dst_ld).
  SL_KERNEL(copy_2d, void(DType dt, const void* src, int64_t src_ld, void* dst, int64_t dst_ld, int64_t rows,
                          int64_t cols));

  // Reductions over the middle of [outer, extent, inner]; `index` (int32, may be null) receives argmax.
  SL_KERNEL(reduce, void(ReduceOp op, DType dt, const void* x, ReduceDims d, void* out, int32_t* index));
  // gx (zeroed by the kernel) receives gy at the argmax positions.
  SL_KERNEL(reduce_max_backward, void(DType dt, const void* gy, const int32_t* index, ReduceDims d, void* gx));

  // C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] (row-major), for b < batch.
  SL_KERNEL(gemm, void(DType dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                       const void* a, int64_t lda, int64_t stride_a, const void* b, int64_t ldb,
                       int64_t stride_b, double beta, void* c, int64_t ldc, int64_t stride_c, int64_t batch));

  SL_KERNEL(conv2d_forward, void(DType dt, const Conv2dParams& p, const void* x, const void* w, void* y));
  SL_KERNEL(conv2d_backward_input, void(DType dt, const Conv2dParams& p, const void* gy, const void* w, void* gx));
  SL_KERNEL(conv2d_backward_weight,
            void(DType dt, const Conv2dParams& p, const void* x, const void* gy, void* gw));
  // conv2d(shift2d(x, kernel, dilation), w) without the shifted copy (ShiftResNet's shift and the
  // 1x1 conv after it): p is a 1x1 conv (no padding, dilation 1, one group, any stride) whose input
  // channel c is read moved by shift2d_offset(c, p.cin, kernel, dilation), zeros past the border.
  // Results equal the composition's. Optional: ops compose shift2d and conv2d where it is empty.
  SL_KERNEL(shift_conv2d_forward, void(DType dt, const Conv2dParams& p, int64_t kernel, int64_t dilation,
                                       const void* x, const void* w, void* y));
  SL_KERNEL(shift_conv2d_backward_input, void(DType dt, const Conv2dParams& p, int64_t kernel, int64_t dilation,
                                              const void* gy, const void* w, void* gx));
  SL_KERNEL(shift_conv2d_backward_weight, void(DType dt, const Conv2dParams& p, int64_t kernel, int64_t dilation,
                                               const void* x, const void* gy, void* gw));

  SL_KERNEL(max_pool2d_forward, void(DType dt, const Pool2dParams& p, const void* x, void* y, int32_t* index));
  SL_KERNEL(max_pool2d_backward,
            void(DType dt, const Pool2dParams& p, const void* gy, const int32_t* index, void* gx));
  SL_KERNEL(avg_pool2d_forward, void(DType dt, const Pool2dParams& p, const void* x, void* y));
  SL_KERNEL(avg_pool2d_backward, void(DType dt, const Pool2dParams& p, const void* gy, void* gx));
  // Adaptive average pooling uses p.n, p.c, p.h, p.w, p.ho, p.wo only.
  SL_KERNEL(adaptive_avg_pool2d_forward, void(DType dt, const Pool2dParams& p, const void* x, void* y));
  SL_KERNEL(adaptive_avg_pool2d_backward, void(DType dt, const Pool2dParams& p, const void* gy, void* gx));

  // Training mode: batch statistics, saves mean and 1/sqrt(var+eps) per channel, and updates the
  // running averages when they are non-null (unbiased variance, as PyTorch). gamma/beta may be null.
  SL_KERNEL(batch_norm_train_forward,
            void(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta, void* y,
                 void* save_mean, void* save_invstd, void* running_mean, void* running_var));
  SL_KERNEL(batch_norm_eval_forward,
            void(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                 const void* running_mean, const void* running_var, void* y));
  // `train` selects the full batch-statistics gradient; otherwise mean/invstd are constants.
  // Outputs may be null when not needed.
  SL_KERNEL(batch_norm_backward,
            void(DType dt, const BatchNormParams& p, bool train, const void* x, const void* gy, const void* gamma,
                 const void* mean, const void* invstd, void* gx, void* ggamma, void* gbeta));
  // Training-mode batch norm followed by ReLU in the same pass (y = relu(bn(x))), and its backward:
  // the batch_norm_backward of gy masked to y > 0 (ReLU's gradient), without the masked copy. The
  // backward gets no y: it recomputes the mask from x, the saved statistics, gamma and beta, so the
  // forward must normalise with exactly what those give (the CPU: scale = gamma * saved invstd).
  // Results equal the composition's. Optional: ops compose batch_norm and relu where they are empty.
  SL_KERNEL(batch_norm_relu_train_forward,
            void(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta, void* y,
                 void* save_mean, void* save_invstd, void* running_mean, void* running_var));
  SL_KERNEL(batch_norm_relu_backward,
            void(DType dt, const BatchNormParams& p, const void* x, const void* gy, const void* gamma,
                 const void* beta, const void* mean, const void* invstd, void* gx, void* ggamma, void* gbeta));
  // y = relu(bn(x) + residual) (residual: x's shape), a ResNet block's second batch norm, shortcut add
  // and ReLU in one pass; otherwise as batch_norm_relu_train_forward. Its backward is ReLU's mask and
  // batch_norm_backward. Optional: ops compose batch_norm, add and relu where it is empty.
  SL_KERNEL(batch_norm_add_relu_train_forward,
            void(DType dt, const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                 const void* residual, void* y, void* save_mean, void* save_invstd, void* running_mean,
                 void* running_var));

  SL_KERNEL(softmax_forward, void(DType dt, bool log, const void* x, ReduceDims d, void* y));
  SL_KERNEL(softmax_backward, void(DType dt, bool log, const void* y, const void* gy, ReduceDims d, void* gx));
  // Mean cross-entropy of logits [n, c] against int32 labels, with label smoothing. Writes the scalar
  // loss and the log-probabilities (kept for backward). Returns the index of the first label outside
  // [0, c), or -1 when all are valid (then nothing else is meaningful).
  SL_KERNEL(cross_entropy_forward, int64_t(DType dt, const void* logits, const int32_t* labels, int64_t n,
                                           int64_t c, double smoothing, void* loss, void* logprobs));
  SL_KERNEL(cross_entropy_backward, void(DType dt, const void* logprobs, const int32_t* labels, int64_t n,
                                         int64_t c, double smoothing, const void* gloss, void* gx));

  // Spatial shift (Wu et al.): channel c moves by its offset (dy, dx) (shift2d_offset), zero fill;
  // direction -1 applies the opposite shift (the backward pass).
  SL_KERNEL(shift2d, void(DType dt, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kernel, int64_t dilation,
                          int direction, const void* x, void* y));

  // Quantizer kernels. nearest_level: for each x[i], the level of `levels` (ascending, nlevels entries,
  // exact in dt) at the smallest distance |x - level| computed in dt; equal distances go to the level
  // with the smaller tie_rank (APoT's upstream set order). Writes the level value and/or its index.
  SL_KERNEL(nearest_level, void(DType dt, const void* x, int64_t n, const double* levels, const int32_t* tie_rank,
                                int64_t nlevels, void* value, int32_t* index));

  // Fused quantizer kernels, one pass each over weights and latents. They take the floating-point
  // steps of the element-wise compositions they replace, so results are identical.
  // y = clamp(floor(x / delta) * delta, lo, hi): fixed point with delta = 2^-F.
  SL_KERNEL(round_to_fixed, void(DType dt, const void* x, int64_t n, double delta, double lo, double hi, void* y));
  // DeepShift-PS: shift = clamp(shift, lo, 0) in place; w = 2^round(shift) * sign(round(sign)).
  SL_KERNEL(deepshift_ps_forward, void(DType dt, int64_t n, double lo, void* shift, const void* sign, void* w));
  // gshift = (g * sign(round(sign))) * (2^round(shift) * ln 2).
  SL_KERNEL(deepshift_ps_backward,
            void(DType dt, int64_t n, const void* shift, const void* sign, const void* g, void* gshift));
  // DeepShift-Q: w = sign(w) * clamp(|w|, lo, hi) in place; wq = 2^round(log(|w|) / ln 2) * sign(w).
  SL_KERNEL(deepshift_q_forward, void(DType dt, int64_t n, double lo, double hi, void* w, void* wq));

  // S3 (k shift latents, k <= 8): w = (s * [sparse > 0]) * 2^(b0 * (1 + b1 * (1 + ...))) * scale with
  // s = +-1 the sign of `weight` (+1 at 0) and b_j = [shift_j > 0]; the backward writes the gradients
  // of weight, sparse and every shift that is non-null, the thresholds being identity STEs.
  SL_KERNEL(s3_forward, void(DType dt, int64_t n, int k, const void* weight, const void* sparse,
                             const void* const* shifts, double scale, void* w));
  SL_KERNEL(s3_backward, void(DType dt, int64_t n, int k, const void* weight, const void* sparse,
                              const void* const* shifts, double scale, const void* g, void* gweight, void* gsparse,
                              void* const* gshifts));
  // DenseShift (k gates, k <= 8): w = s * 2^p * scale, p = ((b0 + 1) * b1 + 1) * b2 ... with
  // b_j = [gate_j > 0]; the backward is the surrogate of the paper (r = sqrt(p + 1)).
  SL_KERNEL(denseshift_forward,
            void(DType dt, int64_t n, int k, const void* weight, const void* const* gates, double scale, void* w));
  SL_KERNEL(denseshift_backward, void(DType dt, int64_t n, int k, const void* weight, const void* const* gates,
                                      double scale, const void* g, void* gweight, void* const* ggates));

  // APoT's clipped straight-through quantizer out = (u * a) * scale with u = c + (q - c),
  // c = clamp(x / a, lo, hi) and q = p's projection of c, in one pass (scale 1: no product).
  // apot_backward: the gradients autograd takes through the product with scale, div, clamp and mul,
  // in one pass: with gs = g * scale, r = x / a and gr = (lo <= r <= hi) ? gs * a : 0, gx = gr / a
  // (skipped when null), and a's gradient (one element of dt, skipped when null)
  // sum(gs * u) + sum(-((gr * r) / a)), each sum as the backend's reduce takes it, then added in dt.
  // u is recomputed from x and p with the forward's steps (the same bits), not stored.
  SL_KERNEL(apot_quantize, void(DType dt, const void* x, int64_t n, double a, double lo, double hi, double scale,
                                const ApotProjection& p, void* out));
  SL_KERNEL(apot_backward, void(DType dt, const void* g, const void* x, int64_t n, double a, double lo, double hi,
                                double scale, const ApotProjection& p, void* gx, void* ga));

  // Optimizer steps, on the device that holds the parameter and its state. Moments
  // that decay below the smallest normal value become 0 (subnormal arithmetic is ~100x slower).
  // momentum / vmax / slow may be null when the step does not use them.
  SL_KERNEL(sgd_step, void(DType dt, const SgdStep& s, void* p, const void* g, void* momentum, int64_t n));
  SL_KERNEL(adam_step,
            void(DType dt, const AdamStep& s, void* p, const void* g, void* m, void* v, void* vmax, int64_t n));
  SL_KERNEL(radam_step,
            void(DType dt, const RAdamStep& s, void* p, const void* g, void* m, void* v, void* slow, int64_t n));

  // Counter-based random numbers: element i uses Philox4x32-10 block (offset + i / 4), lane i % 4,
  // keyed by seed, so values do not depend on thread count or device.
  SL_KERNEL(fill_uniform, void(DType dt, void* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi));
  SL_KERNEL(fill_normal,
            void(DType dt, void* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double stddev));
#undef SL_KERNEL
};

// The backend of a device, registered on first use. Throws when CUDA is requested but shiftlab
// was built without it or no GPU is present.
Backend& backend(Device device);
// True when this build has the CUDA backend and a GPU is visible.
bool cuda_available();
// Why CUDA is unavailable (empty when it is available).
std::string cuda_unavailable_reason();
// Before the CUDA backend's first use: data-parallel ranks on one machine take one visible GPU each,
// local_rank % cuda_device_count(). Does nothing without CUDA or GPUs.
void select_cuda_device(int local_rank);
int cuda_device_count();  // GPUs this process sees (0 without CUDA)

}  // namespace sl
