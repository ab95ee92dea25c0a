// Activation modules: thin wrappers over the differentiable ops.
#include "layers/activation.h"

namespace sl {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor ReLU6::forward(const Tensor& x) { return relu6(x); }

}  // namespace sl
