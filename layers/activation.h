// Parameter-free activations as modules (torch.nn.ReLU, torch.nn.ReLU6).
#pragma once
#include "layers/module.h"

namespace sl {

class ReLU : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }
  Tensor forward(const Tensor& x) override;
};

// min(max(x, 0), 6), MobileNetV2's activation in torchvision.
class ReLU6 : public Module {
 public:
  std::string type_name() const override { return "ReLU6"; }
  Tensor forward(const Tensor& x) override;
};

}  // namespace sl
