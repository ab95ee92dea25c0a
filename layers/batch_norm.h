// BatchNorm1d / BatchNorm2d (torch.nn.BatchNorm*d): parameters `weight` (gamma = 1) and `bias`
// (beta = 0); buffers `running_mean` (0), `running_var` (1) and `num_batches_tracked` (i64, shape
// [], +1 per training forward) — PyTorch's names, dtypes and defaults (momentum 0.1, eps 1e-5).
// The running variance is updated with the unbiased batch variance, as PyTorch does.
#pragma once
#include "layers/module.h"
#include "layers/options.h"

namespace sl::dist {
class Communicator;
}

namespace sl {

struct BatchNormOptions {
  /* implicit */ BatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  SL_ARG(int64_t, num_features);
  SL_ARG(double, eps) = 1e-5;
  SL_ARG(double, momentum) = 0.1;
  SL_ARG(bool, affine) = true;
  SL_ARG(bool, track_running_stats) = true;
};

class BatchNormBase : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)), in one pass where the backend fuses them (training on the CPU).
  Tensor forward_relu(const Tensor& x);
  // relu(forward(x) + residual) (a ResNet block's end), in one pass where the backend fuses them.
  Tensor forward_add_relu(const Tensor& x, const Tensor& residual);
  const BatchNormOptions& options() const { return options_; }
  // Undefined when affine / track_running_stats is off.
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }
  const Tensor& num_batches_tracked() const { return num_batches_tracked_; }
  void reset_running_stats();
  void reset_parameters();  // running stats, then gamma = 1, beta = 0
  // Synchronised batch norm (--sync-bn): in training, the statistics are those of the batch over
  // every rank of `comm` (nullptr, or one rank: this rank's batch, as before).
  void set_sync(dist::Communicator* comm) { sync_ = comm; }

 protected:
  BatchNormBase(const BatchNormOptions& options, const char* name);
  // Throws unless x has a shape this flavour accepts.
  virtual void check_input(const Tensor& x) const = 0;

 private:
  // relu_after: then ReLU; with `residual` defined, relu(. + residual).
  Tensor forward_impl(const Tensor& x, bool relu_after, const Tensor& residual = Tensor());
  Tensor forward_synced(const Tensor& x);

  BatchNormOptions options_;
  dist::Communicator* sync_ = nullptr;
  Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
};

// Input [n, c] or [n, c, l].
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(const BatchNormOptions& options) : BatchNormBase(options, "BatchNorm1d") {}
  std::string type_name() const override { return "BatchNorm1d"; }

 protected:
  void check_input(const Tensor& x) const override;
};

// Input [n, c, h, w].
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(const BatchNormOptions& options) : BatchNormBase(options, "BatchNorm2d") {}
  std::string type_name() const override { return "BatchNorm2d"; }

 protected:
  void check_input(const Tensor& x) const override;
};

}  // namespace sl
