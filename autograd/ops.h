// Every differentiable operation of shiftlab. Each is implemented in autograd/ops/<family>.cpp with
// its forward and backward side by side; the gradient formula of each input is written above it.
#pragma once
#include <array>
#include <functional>
#include <vector>

#include "autograd/node.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace sl {

// ---- element-wise binary, numpy broadcasting (ops/binary.cpp) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // ties split the gradient in half
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
// Comparisons give 1 or 0 in the inputs' dtype and are not differentiable.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// A scalar operand becomes a 0-d tensor of the other operand's dtype and device.
Tensor scalar_like(double value, const Tensor& like);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);

// ---- element-wise unary (ops/unary.cpp) ----
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);   // zero gradient
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log2(const Tensor& x);
Tensor exp2(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor round(const Tensor& x);  // half to even; zero gradient (use straight_through for STE)
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor square(const Tensor& x);
// Gradient passes where lo <= x <= hi. Use +-infinity for a one-sided clamp.
Tensor clamp(const Tensor& x, double lo, double hi);

// ---- reductions (ops/reduce.cpp); dims may be negative, empty dims means all ----
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Variance with Bessel's correction when `unbiased` (torch.var's default).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, bool unbiased = true, bool keepdim = false);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);  // gradient to the first maximum
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // i32, not differentiable
// Sums a (broadcast) tensor down to `shape`: the reverse of broadcasting, used by the engine.
Tensor sum_to_shape(const Tensor& x, const Shape& shape);

// ---- shape and copies (ops/shape.cpp) ----
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
// Elements [start, end) along `dim`; a view for dim 0, a copy otherwise.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end);
Tensor cat(const TensorList& tensors, int64_t dim = 0);
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor clone(const Tensor& x);
Tensor to_device(const Tensor& x, Device device);
Tensor to_dtype(const Tensor& x, DType dtype);  // gradient flows between floating dtypes only

// ---- matrix products (ops/matmul.cpp) ----
// [m,k]x[k,n], or batched [b,m,k]x[b,k,n] (either side may be 2-D and is then shared).
Tensor matmul(const Tensor& a, const Tensor& b);
// x [.., in] times weight [out, in] transposed, plus bias [out] (bias may be undefined).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- convolution and pooling (ops/conv2d.cpp, ops/pool.cpp) ----
struct Conv2dArgs {
  std::array<int64_t, 2> stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
};
// x [n, cin, h, w], weight [cout, cin/groups, kh, kw], bias [cout] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Conv2dArgs& args = {});

struct Pool2dArgs {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{0, 0};  // 0 means "equal to kernel", as PyTorch's default
  std::array<int64_t, 2> padding{0, 0};
  bool count_include_pad = true;        // avg pool only
};
Tensor max_pool2d(const Tensor& x, const Pool2dArgs& args);
Tensor avg_pool2d(const Tensor& x, const Pool2dArgs& args);
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);

// ---- spatial shift (ops/shift2d.cpp) ----
// Zero-FLOP shift: channel c moves by shift2d_offset(c, C, kernel, dilation), zero fill at borders.
Tensor shift2d(const Tensor& x, int64_t kernel = 3, int64_t dilation = 1);
// Whether shift_conv2d, batch_norm_relu and batch_norm_add_relu use the backends' fused kernels (on by
// default). Off, they run their compositions: `bench train --fusion on off` times both in one run.
// Returns the previous setting.
bool set_fused_ops(bool on);
bool fused_ops();

// Sets the fused ops for a scope and puts the previous setting back, whatever happens.
class ScopedFusedOps {
 public:
  explicit ScopedFusedOps(bool on) : previous_(set_fused_ops(on)) {}
  ~ScopedFusedOps() { set_fused_ops(previous_); }
  ScopedFusedOps(const ScopedFusedOps&) = delete;
  ScopedFusedOps& operator=(const ScopedFusedOps&) = delete;

 private:
  bool previous_;
};

// conv2d(shift2d(x, kernel, dilation), weight, {}, stride) for a 1x1 weight [cout, cin, 1, 1], without
// the shifted copy where the backend has the fused kernels (the CPU), the composition elsewhere.
Tensor shift_conv2d(const Tensor& x, const Tensor& weight, int64_t kernel = 3, int64_t dilation = 1,
                    int64_t stride = 1);

// ---- normalisation (ops/batch_norm.cpp) ----
// x [n, c] or [n, c, h, w]. In training, batch statistics are used and the running buffers (if
// defined) are updated in place; otherwise the running statistics are used. gamma/beta may be undefined.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// relu(batch_norm(x, ...)) in one pass where the backend has the fused kernels and `training` (the
// CPU); the composition otherwise. Same results and gradients as the composition.
Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// relu(batch_norm(x, ...) + residual), a ResNet block's end, in one pass where batch_norm_relu would
// fuse and the residual has x's shape, dtype and device; the composition otherwise. Same results and
// gradients as the composition.
Tensor batch_norm_add_relu(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                           const Tensor& running_mean, const Tensor& running_var, bool training,
                           double momentum = 0.1, double eps = 1e-5);

// (x - mean(x)) / std(x) over all of x, std unbiased (APoT's weight normalisation), as one batch
// norm: the same function and gradient as the composition of mean, var, sub, sqrt and div, in two
// passes forward and two back where the composition takes a dozen. Needs at least 2 elements.
Tensor standardize(const Tensor& x);

// ---- softmax and losses (ops/softmax.cpp) ----
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Mean cross-entropy of logits [n, c] against i32 labels [n]; label_smoothing as torch.nn.CrossEntropyLoss.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing = 0);

// ---- dropout (ops/dropout.cpp) ----
// Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p); identity when not training.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// ---- straight-through estimators (ops/ste.cpp) ----
using UnaryFn = std::function<Tensor(const Tensor&)>;
using SurrogateGrad = std::function<Tensor(const Tensor& grad_out, const Tensor& x)>;
// Forward: forward(x) (computed without a graph). Backward: surrogate(grad_out, x), by default the
// identity (the plain straight-through estimator).
Tensor straight_through(const Tensor& x, const UnaryFn& forward, const SurrogateGrad& surrogate = nullptr,
                        const char* name = "straight_through");

}  // namespace sl
