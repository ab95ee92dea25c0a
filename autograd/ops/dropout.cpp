// Inverted dropout, composed: y = x * mask / (1 - p) with a Philox Bernoulli mask, so the gradient
// is mul's (dy * mask / (1 - p)) and needs no rule of its own.
#include "autograd/ops/internal.h"

namespace sl {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  check_floating("dropout", x);
  SL_CHECK(p >= 0 && p <= 1, "dropout: probability {} is outside [0, 1]", p);
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, scalar_like(0.0, x));
  Tensor u = rand(x.shape(), x.dtype(), x.device(), 0, 1, gen);
  Tensor keep = ge(u, scalar_like(p, u));
  return mul(x, mul(keep, scalar_like(1.0 / (1.0 - p), keep)));
}

}  // namespace sl
