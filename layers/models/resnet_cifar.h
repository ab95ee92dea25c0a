// The CIFAR ResNets of DeepShift's pytorch/cifar10_models/resnet.py (the akamaster layout of He et
// al. 2016 §4.2): resnet20/32/44/56/110 and the 4-stage CIFAR resnet18 that DeepShift's cifar10
// table uses. Names as the reference: conv1, bn1, layer1.0.conv1, ..., layer1.0.shortcut.0 (option
// B), linear. With option B they are also the ResNets of alvinwan/shiftresnet-cifar models/resnet.py,
// whose `reduction` (net: every width / sqrt(r); block: each block's inner width / r) the resnetN
// builder takes too; the ShiftResNets (layers/models/shiftresnet.h) reuse CifarResNet with other blocks.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/models/registry.h"
#include "layers/sequential.h"

namespace sl {

// Option-A shortcut: x[:, :, ::2, ::2] zero-padded with `pad` channels on each side (parameter-free;
// DeepShift's LambdaLayer). Composed of differentiable ops: a 1x1 stride-2 average pool is exactly
// the strided slice, and cat with zeros is the channel pad.
Tensor subsample_pad_channels(const Tensor& x, int64_t pad);

class ZeroPadShortcut : public Module {
 public:
  explicit ZeroPadShortcut(int64_t pad) : pad_(pad) {}
  std::string type_name() const override { return "ZeroPadShortcut"; }
  Tensor forward(const Tensor& x) override { return subsample_pad_channels(x, pad_); }
  int64_t pad() const { return pad_; }  // zero channels on each side

 private:
  int64_t pad_;
};

// conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN -> + shortcut(x) -> ReLU. The shortcut is the
// identity (an empty Sequential) unless stride != 1 or in_planes != planes; then option 'A' (zero
// pad; only defined for stride 2 and planes = 2 * in_planes, the only case the reference builds) or
// 'B' (conv1x1(stride) + BN, registered as shortcut.0 / shortcut.1). mid_planes is the width between
// the two convs (0 = planes; shiftresnet-cifar's block reduction makes it int(planes / r)).
class CifarBasicBlock : public Module {
 public:
  CifarBasicBlock(int64_t in_planes, int64_t planes, int64_t stride, char option, int64_t mid_planes = 0);
  std::string type_name() const override { return "BasicBlock"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  ModulePtr shortcut;
};

// Builds one residual block: (in_planes, planes, stride) -> module (a BasicBlock, a ShiftConv, ...).
using BlockFactory = std::function<ModulePtr(int64_t in_planes, int64_t planes, int64_t stride)>;

// DeepShift's ResNet: conv3x3(C -> widths[0]) + BN + ReLU, one stage per entry of `num_blocks`
// (widths[i] channels, stride 1 for the first stage and 2 after), average pooling, Linear.
// pool_kernel 0 pools over the whole final map (the 3-stage nets: avg_pool2d(out, out.size(3)));
// the 4-stage resnet18 uses a fixed avg_pool2d(out, 4). The first constructor uses BasicBlocks with
// shortcut `option`; the second any block (shiftresnet-cifar's ResNet(block, num_blocks)).
class CifarResNet : public Module {
 public:
  CifarResNet(const std::vector<int64_t>& num_blocks, const std::vector<int64_t>& widths, int64_t in_channels,
              int64_t num_classes, char option, int64_t pool_kernel);
  CifarResNet(const std::vector<int64_t>& num_blocks, const std::vector<int64_t>& widths, int64_t in_channels,
              int64_t num_classes, const BlockFactory& block, int64_t pool_kernel);
  std::string type_name() const override { return "ResNet"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm2d> bn1;
  std::vector<std::shared_ptr<Sequential>> layers;  // layer1, layer2, ...
  std::shared_ptr<Linear> linear;

 private:
  int64_t pool_kernel_;
};

namespace models {
// shiftresnet-cifar's ResNet reduction (models/resnet.py, ResNetWrapper), with its float arithmetic:
//   net:   stage widths int(w / r ** 0.5) for w = 16, 32, 64 (parameters shrink about r times);
//   block: widths 16/32/64, each BasicBlock's inner width int((1 / r) * planes).
// `mode` is "net" (also "", count.py's default) or "block"; r = 1 is the unreduced network. A width
// may come out 0 for a large r (make_model refuses that).
std::vector<int64_t> reduced_widths(double reduction, const std::string& mode);
int64_t reduced_mid_planes(int64_t planes, double reduction, const std::string& mode);

// resnet20/32/44/56/110: n = (depth - 2) / 6 blocks per stage; options.reduction != 1 gives
// shiftresnet-cifar's reduced ResNet (option-B shortcuts: the default then, "A" is refused).
ModulePtr make_resnet_cifar(const std::string& arch, const ModelOptions& o);
ModulePtr make_resnet18_cifar(const std::string& arch, const ModelOptions& o);
}  // namespace models

}  // namespace sl
