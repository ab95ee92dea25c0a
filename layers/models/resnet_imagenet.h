// ImageNet ResNet-18/34/50 with torchvision's exact layout and names (torchvision/models/resnet.py,
// v1.5: the stride of a Bottleneck sits on its 3x3 conv), so a torchvision state dict maps 1:1 by
// name: conv1, bn1, layer1.0.conv1, layer2.0.downsample.0 / .1, fc.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/models/registry.h"
#include "layers/pooling.h"
#include "layers/sequential.h"

namespace sl {

// conv3x3(stride) -> bn1 -> relu -> conv3x3 -> bn2 -> + downsample(x) or x -> relu.
class ResNetBasicBlock : public Module {
 public:
  static constexpr int64_t expansion = 1;
  ResNetBasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> downsample);
  std::string type_name() const override { return "BasicBlock"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<ReLU> relu;
  std::shared_ptr<Sequential> downsample;  // null when the shortcut is the identity
};

// conv1x1 -> bn1 -> relu -> conv3x3(stride) -> bn2 -> relu -> conv1x1(planes * 4) -> bn3 -> + shortcut -> relu.
class ResNetBottleneck : public Module {
 public:
  static constexpr int64_t expansion = 4;
  ResNetBottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> downsample);
  std::string type_name() const override { return "Bottleneck"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<ReLU> relu;
  std::shared_ptr<Sequential> downsample;
};

// conv1 7x7/2 -> bn1 -> relu -> maxpool 3x3/2 -> layer1..layer4 (64, 128, 256, 512 planes; stride 1,
// 2, 2, 2) -> avgpool (adaptive 1x1) -> flatten -> fc.
class ResNet : public Module {
 public:
  ResNet(bool bottleneck, const std::vector<int64_t>& layers, int64_t in_channels, int64_t num_classes);
  std::string type_name() const override { return "ResNet"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm2d> bn1;
  std::shared_ptr<ReLU> relu;
  std::shared_ptr<MaxPool2d> maxpool;
  std::vector<std::shared_ptr<Sequential>> layers;
  std::shared_ptr<AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<Linear> fc;
};

namespace models {
// imagenet-resnet18 / -34 / -50.
ModulePtr make_resnet_imagenet(const std::string& arch, const ModelOptions& o);
}  // namespace models

}  // namespace sl
