// Multiply-accumulate counting: one forward of zeros in evaluation mode without a graph, summing
// what every Conv2d / Linear (any WeightLayer) computed. FLOPs = 2 x MACs, as bench/README counts
// them: BN, activations, pooling, residual adds and biases are not counted.
#pragma once
#include <string>
#include <vector>

#include "layers/module.h"

namespace sl {

struct LayerMacs {
  std::string name;  // dotted module name
  std::string type;  // "Conv2d", "Linear", ...
  Shape input, output;
  int64_t macs = 0;
};

// Per-layer MACs of one forward of `input` (the batch dimension included), in module order; layers
// the forward did not reach are left out. The model's training flags are restored afterwards.
std::vector<LayerMacs> layer_macs(Module& model, const Shape& input);
int64_t count_macs(Module& model, const Shape& input);

}  // namespace sl
