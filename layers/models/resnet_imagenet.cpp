// torchvision's ResNets. Init as torchvision: kaiming_normal_(fan_out, relu) on every conv, BN
// gamma 1 / beta 0, the fc keeps nn.Linear's default (zero_init_residual = False).
#include "layers/models/resnet_imagenet.h"

#include "layers/models/common.h"

namespace sl {

namespace {
std::shared_ptr<Conv2d> conv(int64_t cin, int64_t cout, int64_t k, int64_t stride) {
  return std::make_shared<Conv2d>(Conv2dOptions(cin, cout, k).stride(stride).padding(k / 2).bias(false));
}

Tensor shortcut(const Tensor& x, const std::shared_ptr<Sequential>& downsample) {
  return downsample ? downsample->forward(x) : x;
}
}  // namespace

ResNetBasicBlock::ResNetBasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> ds) {
  // Registration order as torchvision's __init__.
  conv1 = register_module("conv1", conv(inplanes, planes, 3, stride));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  relu = register_module("relu", std::make_shared<ReLU>());
  conv2 = register_module("conv2", conv(planes, planes, 3, 1));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  if (ds) downsample = register_module("downsample", std::move(ds));
}

// The registered `relu` keeps torchvision's module tree; the forward takes the fused batch norm +
// ReLU ops, which give the composition's values and gradients.
Tensor ResNetBasicBlock::forward(const Tensor& x) {
  Tensor out = conv2->forward(bn1->forward_relu(conv1->forward(x)));
  return bn2->forward_add_relu(out, shortcut(x, downsample));
}

ResNetBottleneck::ResNetBottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> ds) {
  conv1 = register_module("conv1", conv(inplanes, planes, 1, 1));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  conv3 = register_module("conv3", conv(planes, planes * expansion, 1, 1));
  bn3 = register_module("bn3", std::make_shared<BatchNorm2d>(planes * expansion));
  relu = register_module("relu", std::make_shared<ReLU>());
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor ResNetBottleneck::forward(const Tensor& x) {
  Tensor out = bn1->forward_relu(conv1->forward(x));
  out = conv3->forward(bn2->forward_relu(conv2->forward(out)));
  return bn3->forward_add_relu(out, shortcut(x, downsample));
}

ResNet::ResNet(bool bottleneck, const std::vector<int64_t>& blocks, int64_t in_channels, int64_t num_classes) {
  const int64_t expansion = bottleneck ? ResNetBottleneck::expansion : ResNetBasicBlock::expansion;
  conv1 = register_module("conv1",
                          std::make_shared<Conv2d>(Conv2dOptions(in_channels, 64, 7).stride(2).padding(3).bias(false)));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(64));
  relu = register_module("relu", std::make_shared<ReLU>());
  maxpool = register_module("maxpool", std::make_shared<MaxPool2d>(Pool2dOptions(3).stride(2).padding(1)));
  int64_t inplanes = 64;
  const int64_t widths[] = {64, 128, 256, 512};
  for (size_t s = 0; s < 4; ++s) {
    int64_t planes = widths[s], stride = s == 0 ? 1 : 2;
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < blocks[s]; ++b) {
      int64_t st = b == 0 ? stride : 1;
      std::shared_ptr<Sequential> ds;
      if (st != 1 || inplanes != planes * expansion) {  // torchvision's _make_layer rule
        ds = std::make_shared<Sequential>();
        ds->push_back(conv(inplanes, planes * expansion, 1, st));
        ds->push_back(std::make_shared<BatchNorm2d>(planes * expansion));
      }
      if (bottleneck)
        stage->push_back(std::make_shared<ResNetBottleneck>(inplanes, planes, st, ds));
      else
        stage->push_back(std::make_shared<ResNetBasicBlock>(inplanes, planes, st, ds));
      inplanes = planes * expansion;
    }
    layers.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  avgpool = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(1));
  fc = register_module("fc", std::make_shared<Linear>(512 * expansion, num_classes));
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor out = maxpool->forward(bn1->forward_relu(conv1->forward(x)));
  for (auto& stage : layers) out = stage->forward(out);
  out = avgpool->forward(out);
  return fc->forward(flatten(out, 1));
}

namespace models {

ModulePtr make_resnet_imagenet(const std::string& arch, const ModelOptions& o) {
  // The stem and the three stride-2 stages divide the size by 32; below 32 the last stage would see
  // maps that padding alone keeps at 1 x 1.
  SL_CHECK(o.image_size >= 32,
           "make_model(\"{}\"): image_size {} is too small: the network downsamples by 32, so it needs at "
           "least 32 pixels (the reference input is 224)",
           arch, o.image_size);
  std::shared_ptr<ResNet> m;
  if (arch == "imagenet-resnet18")
    m = std::make_shared<ResNet>(false, std::vector<int64_t>{2, 2, 2, 2}, o.in_channels, o.num_classes);
  else if (arch == "imagenet-resnet34")
    m = std::make_shared<ResNet>(false, std::vector<int64_t>{3, 4, 6, 3}, o.in_channels, o.num_classes);
  else
    m = std::make_shared<ResNet>(true, std::vector<int64_t>{3, 4, 6, 3}, o.in_channels, o.num_classes);
  apply_init(*m, o, "kaiming-fan-out");
  return m;
}

}  // namespace models

}  // namespace sl
