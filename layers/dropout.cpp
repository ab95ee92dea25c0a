// Dropout module over the dropout op.
#include "layers/dropout.h"

namespace sl {

Dropout::Dropout(double p, Generator* gen) : p_(p), gen_(gen) {
  SL_CHECK(p >= 0 && p <= 1, "Dropout: probability must be in [0, 1], got {}", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training(), gen_); }

}  // namespace sl
