// Metrics on host copies of the logits (small: batch x classes).
#include "train/metrics.h"

#include <cmath>
#include <vector>

namespace sl {

int64_t topk_correct(const Tensor& logits, const Tensor& labels, int64_t k) {
  SL_CHECK(logits.dim() == 2, "topk_correct: logits must be [n, classes], got {}", shape_str(logits.shape()));
  const int64_t n = logits.size(0), c = logits.size(1);
  SL_CHECK(labels.dim() == 1 && labels.size(0) == n, "topk_correct: labels must be [{}], got {}", n,
           shape_str(labels.shape()));
  SL_CHECK(k >= 1 && k <= c, "topk_correct: k must be in [1, {}], got {}", c, k);
  SL_CHECK(labels.dtype() == DType::i32 || labels.dtype() == DType::i64,
           "topk_correct: labels must be i32 or i64, got {}", labels.dtype());
  std::vector<double> x = logits.to_vector<double>();
  std::vector<int64_t> y = labels.to_vector<int64_t>();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t label = y[static_cast<size_t>(i)];
    SL_CHECK(label >= 0 && label < c, "topk_correct: label {} of row {} is outside [0, {})", label, i, c);
    const double* row = x.data() + i * c;
    double target = row[label];
    if (std::isnan(target)) continue;  // a NaN score is never correct
    int64_t rank = 0;                  // classes ranked before the label
    for (int64_t j = 0; j < c; ++j) rank += row[j] > target || (row[j] == target && j < label);
    correct += rank < k;
  }
  return correct;
}

void AverageMeter::update(double value, int64_t n) {
  SL_CHECK(n >= 0, "AverageMeter {}: count must be >= 0, got {}", name_, n);
  val_ = value;
  sum_ += value * static_cast<double>(n);
  count_ += n;
}

void AverageMeter::reset() {
  val_ = sum_ = 0;
  count_ = 0;
}

}  // namespace sl
