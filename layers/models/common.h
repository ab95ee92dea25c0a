// Helpers the model files share (not part of the zoo's public API).
#pragma once
#include <string>

#include "engine/error.h"
#include "layers/models/registry.h"

namespace sl::models {

// Re-initialises every Conv2d weight with kaiming_normal_(fan_out, relu) and every BatchNorm with
// gamma 1, beta 0: the loop torchvision's ResNet (and APoT's CIFAR ResNet) runs after construction.
void kaiming_fan_out_init(Module& model, Generator& gen = default_generator());

// Applies options.init to a model whose reference init is `reference` ("pytorch" or "kaiming-fan-out").
void apply_init(Module& model, const ModelOptions& options, const std::string& reference);

// Output size of a k x k, stride s, padding p window over n (0 when the window does not fit).
inline int64_t window_out(int64_t n, int64_t k, int64_t s, int64_t p) {
  return n + 2 * p >= k ? (n + 2 * p - k) / s + 1 : 0;
}

}  // namespace sl::models
