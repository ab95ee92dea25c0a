// Classification metrics: top-k correct counts and a running average (as the PyTorch ImageNet
// example's AverageMeter). The loss is the cross_entropy op (autograd/ops.h: mean over the batch,
// optional label smoothing as torch.nn.CrossEntropyLoss).
#pragma once
#include <cstdint>
#include <string>

#include "engine/tensor.h"

namespace sl {

// Rows of logits [n, c] whose i32/i64 label is among the k highest scores. Ties are broken towards the
// lower class index (a stable descending sort), so k = 1 agrees with argmax.
int64_t topk_correct(const Tensor& logits, const Tensor& labels, int64_t k);

class AverageMeter {
 public:
  explicit AverageMeter(std::string name = "") : name_(std::move(name)) {}
  // Adds `value` averaged over `n` items (e.g. a batch mean and the batch size).
  void update(double value, int64_t n = 1);
  void reset();
  double val() const { return val_; }  // the last value
  double sum() const { return sum_; }
  int64_t count() const { return count_; }
  double avg() const { return count_ > 0 ? sum_ / static_cast<double>(count_) : 0; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  double val_ = 0, sum_ = 0;
  int64_t count_ = 0;
};

}  // namespace sl
