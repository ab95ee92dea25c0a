// Softmax family.
//   softmax:      dx = y * (dy - sum(dy * y))
//   log_softmax:  dx = dy - exp(y) * sum(dy)
//   cross_entropy (mean over n, smoothing s, c classes): dlogits = (softmax - ((1-s) onehot + s/c)) * g / n
#include "autograd/ops/internal.h"

namespace sl {

namespace {
Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  check_floating(name, x);
  SL_CHECK(x.dim() > 0, "{}: needs at least one dimension", name);
  ReduceDims d = detail::dims_around(x.shape(), normalize_dim(dim, x.dim(), name));
  Tensor y = empty_like(x);
  if (y.numel() > 0) detail::backend_of(x).softmax_forward(x.dtype(), log, x.raw_data(), d, y.raw_data());
  Tensor yd = y.detach();
  return record(name, y, {x}, [yd, d, log](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = empty_like(g);
    if (gx.numel() > 0) detail::backend_of(g).softmax_backward(g.dtype(), log, yd.raw_data(), g.raw_data(), d, gx.raw_data());
    return TensorList{gx};
  });
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing) {
  check_floating("cross_entropy", logits);
  SL_CHECK(logits.dim() == 2, "cross_entropy: logits must be [n, classes], got {}", shape_str(logits.shape()));
  SL_CHECK(labels.dtype() == DType::i32, "cross_entropy: labels must be i32, got {}", labels.dtype());
  SL_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0),
           "cross_entropy: labels {} do not match logits {} (expected [{}])", shape_str(labels.shape()),
           shape_str(logits.shape()), logits.size(0));
  SL_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy: label_smoothing {} is outside [0, 1]",
           label_smoothing);
  check_same_device("cross_entropy", logits, labels);
  int64_t n = logits.size(0), c = logits.size(1);
  SL_CHECK(n > 0 && c > 0, "cross_entropy: empty logits {}", shape_str(logits.shape()));
  Tensor loss = Tensor::empty({}, logits.dtype(), logits.device());
  Tensor logprobs = empty_like(logits);
  int64_t bad = detail::backend_of(logits).cross_entropy_forward(logits.dtype(), logits.raw_data(),
                                                                 static_cast<const int32_t*>(labels.raw_data()), n, c,
                                                                 label_smoothing, loss.raw_data(), logprobs.raw_data());
  if (bad >= 0) {
    auto value = slice(labels, 0, bad, bad + 1).item();
    fail("cross_entropy: label {} at index {} is outside [0, {})", static_cast<int64_t>(value), bad, c);
  }
  Tensor lbl = labels.detach();
  return record("cross_entropy", loss, {logits},
                [logprobs, lbl, n, c, label_smoothing](const Tensor& g, const std::vector<bool>&) {
                  Tensor gx = empty_like(logprobs);
                  detail::backend_of(g).cross_entropy_backward(g.dtype(), logprobs.raw_data(),
                                                               static_cast<const int32_t*>(lbl.raw_data()), n, c,
                                                               label_smoothing, g.raw_data(), gx.raw_data());
                  return TensorList{gx};
                });
}

}  // namespace sl
