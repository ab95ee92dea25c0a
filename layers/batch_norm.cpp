// BatchNorm: buffers and mode handling around the batch_norm op (which updates the running
// statistics in place in training mode).
#include "layers/batch_norm.h"

#include "autograd/function.h"
#include "autograd/ops.h"
#include "backends/backend.h"
#include "dist/communicator.h"
#include "engine/factory.h"
#include "layers/init.h"

namespace sl {

namespace {

// The sum over the ranks of x (f32), differentiable: every rank's output is the sum of all ranks'
// inputs, so an input's gradient is the sum over the ranks of the output gradients. Every rank
// builds the same graph, so the backward all-reduces meet in the same order on all of them.
Tensor allreduce_sum(const Tensor& x, dist::Communicator& comm) {
  std::vector<float> values = x.to_vector<float>();  // host staging for device tensors
  comm.allreduce_sum(values.data(), static_cast<int64_t>(values.size()));
  return record("allreduce_sum", from_vector(values, x.shape(), x.device()), {x},
                [&comm](const Tensor& g, const std::vector<bool>&) {
                  std::vector<float> grads = g.to_vector<float>();
                  comm.allreduce_sum(grads.data(), static_cast<int64_t>(grads.size()));
                  return TensorList{from_vector(grads, g.shape(), g.device())};
                });
}

}  // namespace

BatchNormBase::BatchNormBase(const BatchNormOptions& o, const char* name) : options_(o) {
  SL_CHECK(o.num_features() > 0, "{}: num_features must be positive, got {}", name, o.num_features());
  SL_CHECK(o.eps() > 0, "{}: eps must be positive, got {}", name, o.eps());
  SL_CHECK(o.momentum() >= 0 && o.momentum() <= 1, "{}: momentum must be in [0, 1], got {}", name, o.momentum());
  const int64_t c = o.num_features();
  if (o.affine()) {
    weight_ = register_parameter("weight", ones({c}));
    bias_ = register_parameter("bias", zeros({c}));
  }
  if (o.track_running_stats()) {
    running_mean_ = register_buffer("running_mean", zeros({c}));
    running_var_ = register_buffer("running_var", ones({c}));
    num_batches_tracked_ = register_buffer("num_batches_tracked", zeros({}, DType::i64));
  }
}

void BatchNormBase::reset_running_stats() {
  if (!options_.track_running_stats()) return;
  init::zeros_(running_mean_);
  init::ones_(running_var_);
  init::zeros_(num_batches_tracked_);
}

void BatchNormBase::reset_parameters() {
  reset_running_stats();
  if (options_.affine()) {
    init::ones_(weight_);
    init::zeros_(bias_);
  }
}

Tensor BatchNormBase::forward(const Tensor& x) { return forward_impl(x, false); }

Tensor BatchNormBase::forward_relu(const Tensor& x) { return forward_impl(x, true); }

Tensor BatchNormBase::forward_add_relu(const Tensor& x, const Tensor& residual) {
  return forward_impl(x, true, residual);
}

Tensor BatchNormBase::forward_impl(const Tensor& x, bool relu_after, const Tensor& residual) {
  check_input(x);
  SL_CHECK(x.size(1) == options_.num_features(), "{}({}): input {} has {} channels", type_name(),
           options_.num_features(), shape_str(x.shape()), x.size(1));
  // Batch statistics in training, and always when no running statistics are kept (PyTorch's rule).
  bool use_batch_stats = is_training() || !options_.track_running_stats();
  if (is_training() && options_.track_running_stats()) {
    // num_batches_tracked += 1 (a host round trip of 8 bytes, so it works on any device).
    int64_t n = static_cast<int64_t>(num_batches_tracked_.item()) + 1;
    backend(num_batches_tracked_.device()).fill(DType::i64, num_batches_tracked_.raw_data(), 1, static_cast<double>(n));
  }
  // The op takes [n, c] or [n, c, h, w]; [n, c, l] runs as [n, c, l, 1].
  Tensor in = x.dim() == 3 ? reshape(x, {x.size(0), x.size(1), x.size(2), 1}) : x;
  if (sync_ && sync_->size() > 1 && is_training()) {
    if (in.dim() == 2) in = reshape(in, {in.size(0), in.size(1), 1, 1});
    Tensor y = reshape(forward_synced(in), x.shape());
    if (residual.defined()) y = y + residual;
    return relu_after ? relu(y) : y;
  }
  // Running buffers (undefined without tracking) are updated in training and read in evaluation.
  if (residual.defined()) {
    const Tensor res = residual.dim() == 3 && x.dim() == 3 ? reshape(residual, in.shape()) : residual;
    Tensor y = batch_norm_add_relu(in, res, weight_, bias_, running_mean_, running_var_, use_batch_stats,
                                   options_.momentum(), options_.eps());
    return x.dim() == 3 ? reshape(y, x.shape()) : y;
  }
  Tensor y = relu_after ? batch_norm_relu(in, weight_, bias_, running_mean_, running_var_, use_batch_stats,
                                          options_.momentum(), options_.eps())
                        : batch_norm(in, weight_, bias_, running_mean_, running_var_, use_batch_stats,
                                     options_.momentum(), options_.eps());
  return x.dim() == 3 ? reshape(y, x.shape()) : y;
}

// Batch norm over the global batch, written with autograd ops around two differentiable all-reduces
// (the per-channel sum, then the sum of squared deviations from the global mean: two passes, so no
// cancellation). Same statistics and running-statistics update as the batch_norm op on the whole
// batch; rounding differs (see docs/distributed.md).
Tensor BatchNormBase::forward_synced(const Tensor& in) {
  const int64_t c = in.size(1);
  double count = static_cast<double>(in.numel() / c);
  sync_->allreduce_sum(&count, 1);
  SL_CHECK(count > 1, "{}: synchronised batch norm needs more than 1 value per channel over all ranks, got {}",
           type_name(), count);
  const std::vector<int64_t> dims{0, 2, 3};
  const Shape per_channel{1, c, 1, 1};
  Tensor mean = allreduce_sum(sum(in, dims), *sync_) / count;
  Tensor centered = in - reshape(mean, per_channel);
  Tensor var = allreduce_sum(sum(square(centered), dims), *sync_) / count;
  Tensor y = centered * reshape(1.0 / sqrt(var + options_.eps()), per_channel);
  if (options_.affine()) y = y * reshape(weight_, per_channel) + reshape(bias_, per_channel);
  if (options_.track_running_stats()) {
    NoGradGuard no_grad;
    const double m = options_.momentum();
    copy_data(running_mean_, running_mean_ * (1 - m) + mean.detach() * m);
    copy_data(running_var_, running_var_ * (1 - m) + var.detach() * (m * count / (count - 1)));
  }
  return y;
}

void BatchNorm1d::check_input(const Tensor& x) const {
  SL_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected input [n, c] or [n, c, l], got {}",
           shape_str(x.shape()));
}

void BatchNorm2d::check_input(const Tensor& x) const {
  SL_CHECK(x.dim() == 4, "BatchNorm2d: expected input [n, c, h, w], got {}", shape_str(x.shape()));
}

}  // namespace sl
