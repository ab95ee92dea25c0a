// DeepShift's CIFAR ResNets (cifar10_models/resnet.py) and shiftresnet-cifar's reduced ResNets.
// Neither reference sets a custom init, so conv and linear weights keep PyTorch's
// kaiming_uniform(a = sqrt(5)) default (akamaster's original applies kaiming_normal; DeepShift's
// copy dropped it).
#include "layers/models/resnet_cifar.h"

#include <cmath>

#include "engine/factory.h"
#include "layers/models/common.h"

namespace sl {

Tensor subsample_pad_channels(const Tensor& x, int64_t pad) {
  SL_CHECK(x.dim() == 4, "option-A shortcut: expected [n, c, h, w], got {}", shape_str(x.shape()));
  Pool2dArgs every_other;
  every_other.kernel = {1, 1};
  every_other.stride = {2, 2};
  Tensor sub = avg_pool2d(x, every_other);
  if (pad == 0) return sub;
  Tensor z = zeros({sub.size(0), pad, sub.size(2), sub.size(3)}, sub.dtype(), sub.device());
  return cat({z, sub, z}, 1);
}

CifarBasicBlock::CifarBasicBlock(int64_t in_planes, int64_t planes, int64_t stride, char option, int64_t mid_planes) {
  auto conv3x3 = [](int64_t cin, int64_t cout, int64_t s) {
    return std::make_shared<Conv2d>(Conv2dOptions(cin, cout, 3).stride(s).padding(1).bias(false));
  };
  int64_t mid = mid_planes > 0 ? mid_planes : planes;
  conv1 = register_module("conv1", conv3x3(in_planes, mid, stride));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(mid));
  conv2 = register_module("conv2", conv3x3(mid, planes, 1));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  if (stride == 1 && in_planes == planes) {
    shortcut = register_module("shortcut", std::make_shared<Sequential>());
  } else if (option == 'A') {
    // The padded subsample has in_planes + 2 * (planes / 4) channels: the reference only builds it
    // for (in, planes, stride) = (c, 2c, 2), and so do we.
    SL_CHECK(stride == 2 && in_planes + 2 * (planes / 4) == planes,
             "BasicBlock: option-A shortcut needs stride 2 and planes = 2 * in_planes, got in {} planes {} stride {}",
             in_planes, planes, stride);
    shortcut = register_module("shortcut", std::make_shared<ZeroPadShortcut>(planes / 4));
  } else {
    SL_CHECK(option == 'B', "BasicBlock: shortcut option must be 'A' or 'B', got '{}'", option);
    auto seq = std::make_shared<Sequential>();
    seq->push_back(std::make_shared<Conv2d>(Conv2dOptions(in_planes, planes, 1).stride(stride).bias(false)));
    seq->push_back(std::make_shared<BatchNorm2d>(planes));
    shortcut = register_module("shortcut", seq);
  }
}

Tensor CifarBasicBlock::forward(const Tensor& x) {
  Tensor out = conv2->forward(bn1->forward_relu(conv1->forward(x)));
  return bn2->forward_add_relu(out, shortcut->forward(x));
}

CifarResNet::CifarResNet(const std::vector<int64_t>& num_blocks, const std::vector<int64_t>& widths,
                         int64_t in_channels, int64_t num_classes, char option, int64_t pool_kernel)
    : CifarResNet(
          num_blocks, widths, in_channels, num_classes,
          [option](int64_t in, int64_t planes, int64_t stride) {
            return std::make_shared<CifarBasicBlock>(in, planes, stride, option);
          },
          pool_kernel) {}

CifarResNet::CifarResNet(const std::vector<int64_t>& num_blocks, const std::vector<int64_t>& widths,
                         int64_t in_channels, int64_t num_classes, const BlockFactory& block, int64_t pool_kernel)
    : pool_kernel_(pool_kernel) {
  SL_CHECK(num_blocks.size() == widths.size() && !widths.empty(), "ResNet: {} stage sizes for {} widths",
           num_blocks.size(), widths.size());
  conv1 = register_module("conv1",
                          std::make_shared<Conv2d>(Conv2dOptions(in_channels, widths[0], 3).padding(1).bias(false)));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(widths[0]));
  int64_t in_planes = widths[0];
  for (size_t s = 0; s < widths.size(); ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < num_blocks[s]; ++b) {
      int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      stage->push_back(block(in_planes, widths[s], stride));
      in_planes = widths[s];
    }
    layers.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  linear = register_module("linear", std::make_shared<Linear>(in_planes, num_classes));
}

Tensor CifarResNet::forward(const Tensor& x) {
  Tensor out = bn1->forward_relu(conv1->forward(x));
  for (auto& stage : layers) out = stage->forward(out);
  Pool2dArgs pool;
  int64_t k = pool_kernel_ > 0 ? pool_kernel_ : out.size(3);
  pool.kernel = {k, k};
  out = avg_pool2d(out, pool);
  return linear->forward(reshape(out, {out.size(0), -1}));
}

namespace models {

namespace {
char shortcut_option(const ModelOptions& o, char fallback) { return o.shortcut.empty() ? fallback : o.shortcut[0]; }

// Spatial size after the stem and `stages` stages (stride 2 in all but the first): ceil halvings.
int64_t final_size(int64_t image_size, size_t stages) {
  int64_t s = image_size;
  for (size_t i = 1; i < stages; ++i) s = window_out(s, 3, 2, 1);
  return s;
}
}  // namespace

std::vector<int64_t> reduced_widths(double reduction, const std::string& mode) {
  std::vector<int64_t> widths{16, 32, 64};
  if (mode == "block") return widths;
  // ResNet.__init__: self.reduction = float(reduction) ** 0.5, then int(16 / self.reduction), ...
  double q = std::pow(reduction, 0.5);
  for (int64_t& w : widths) w = static_cast<int64_t>(static_cast<double>(w) / q);
  return widths;
}

int64_t reduced_mid_planes(int64_t planes, double reduction, const std::string& mode) {
  if (mode != "block") return planes;
  // BasicBlock.__init__: self.expansion = 1 / float(reduction); mid = int(self.expansion * planes).
  // (1 / r) * planes is not always planes / r in floating point; this is the reference's order.
  return static_cast<int64_t>((1.0 / reduction) * static_cast<double>(planes));
}

ModulePtr make_resnet_cifar(const std::string& arch, const ModelOptions& o) {
  int64_t depth = std::stoll(arch.substr(6));  // "resnet20" -> 20
  int64_t n = (depth - 2) / 6;
  // Global pooling takes any size; below 8 the last stage would see 1 x 1 maps (the stride-2 stages
  // stop halving) and batch statistics of a single pixel per image.
  SL_CHECK(o.image_size >= 8,
           "make_model(\"{}\"): image_size {} is too small: the two stride-2 stages need at least 8 pixels "
           "(the reference input is 32)",
           arch, o.image_size);
  // A reduced network is shiftresnet-cifar's ResNet, which only has projection shortcuts; option A
  // could not follow the net-mode widths anyway (int(32 / q) is not always 2 * int(16 / q)).
  bool reduced = o.reduction != 1;
  char option = shortcut_option(o, reduced ? 'B' : 'A');
  SL_CHECK(!reduced || option == 'B',
           "make_model(\"{}\"): reduction {} builds shiftresnet-cifar's reduced ResNet, whose shortcuts are "
           "option B; shortcut \"A\" cannot be combined with it (leave shortcut empty or use \"B\")",
           arch, o.reduction);
  std::vector<int64_t> widths = reduced_widths(o.reduction, o.reduction_mode);
  const char* mode = o.reduction_mode == "block" ? "block" : "net";
  SL_CHECK(widths[0] >= 1 && reduced_mid_planes(widths[0], o.reduction, o.reduction_mode) >= 1,
           "make_model(\"{}\"): reduction {} (mode {}) is too large: it leaves 0 channels in the first stage", arch,
           o.reduction, mode);
  BlockFactory block = [option, r = o.reduction, mode = o.reduction_mode](int64_t in, int64_t planes, int64_t stride) {
    return std::make_shared<CifarBasicBlock>(in, planes, stride, option, reduced_mid_planes(planes, r, mode));
  };
  auto m = std::make_shared<CifarResNet>(std::vector<int64_t>{n, n, n}, widths, o.in_channels, o.num_classes, block, 0);
  apply_init(*m, o, "pytorch");
  return m;
}

ModulePtr make_resnet18_cifar(const std::string& arch, const ModelOptions& o) {
  // avg_pool2d(out, 4) then Linear(512): the final map must be 4..7 pixels so the pool yields 1 x 1.
  int64_t f = final_size(o.image_size, 4);
  SL_CHECK(f >= 4 && f <= 7,
           "make_model(\"{}\"): image_size {} gives a {}x{} final feature map, but the fixed 4x4 average pool "
           "followed by Linear(512) needs 4x4 to 7x7: image_size must be in [25, 56] (the reference input is 32)",
           arch, o.image_size, f, f);
  auto m = std::make_shared<CifarResNet>(std::vector<int64_t>{2, 2, 2, 2}, std::vector<int64_t>{64, 128, 256, 512},
                                         o.in_channels, o.num_classes, shortcut_option(o, 'A'), 4);
  apply_init(*m, o, "pytorch");
  return m;
}

}  // namespace models

}  // namespace sl
