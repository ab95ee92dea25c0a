// MobileNetV2 for CIFAR as DeepShift's cifar10_models/mobilenetv2.py (kuangliu's variant of Sandler
// et al. 2018: stem stride 1, second stage stride 1, 4x4 average pool). Names: conv1, bn1,
// layers.<i>.conv1..bn3 / shortcut.0 / shortcut.1, conv2, bn2, linear.
#pragma once
#include <memory>
#include <string>

#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/models/registry.h"
#include "layers/sequential.h"

namespace sl {

// Inverted residual: conv1x1(in -> t*in) + BN + ReLU, depthwise conv3x3(stride) + BN + ReLU,
// conv1x1(-> out) + BN; plus the shortcut when stride is 1 (identity, or conv1x1 + BN when in != out).
class MobileNetV2Block : public Module {
 public:
  MobileNetV2Block(int64_t in_planes, int64_t out_planes, int64_t expansion, int64_t stride);
  std::string type_name() const override { return "Block"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<Sequential> shortcut;

 private:
  int64_t stride_;
};

class MobileNetV2 : public Module {
 public:
  MobileNetV2(int64_t in_channels, int64_t num_classes);
  std::string type_name() const override { return "MobileNetV2"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Sequential> layers;
  std::shared_ptr<Linear> linear;
};

namespace models {
ModulePtr make_mobilenetv2(const std::string& arch, const ModelOptions& o);
}  // namespace models

}  // namespace sl
