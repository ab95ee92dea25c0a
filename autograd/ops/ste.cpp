// Straight-through estimator: the forward applies any function (rounding, projection to a level
// set), the backward applies a declared surrogate gradient, by default the identity.
#include "autograd/ops/internal.h"

namespace sl {

Tensor straight_through(const Tensor& x, const UnaryFn& forward, const SurrogateGrad& surrogate, const char* name) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = forward(x.detach());
  }
  SL_CHECK(y.shape() == x.shape() && y.dtype() == x.dtype(),
           "{}: the forward function must keep shape and dtype ({} {} became {} {})", name, shape_str(x.shape()),
           x.dtype(), shape_str(y.shape()), y.dtype());
  if (y.impl()->storage == x.impl()->storage) y = clone(y);  // never alias the input
  Tensor xd = surrogate ? x.detach() : Tensor();
  return record(name, y.detach(), {x}, [surrogate, xd](const Tensor& g, const std::vector<bool>&) {
    return TensorList{surrogate ? surrogate(g, xd) : g};
  });
}

}  // namespace sl
