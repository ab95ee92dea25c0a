// The zoo's one table: name -> builder, description and reference input. Common option checks live
// here; each builder checks the image sizes its architecture can take.
#include "layers/models/registry.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/init.h"
#include "layers/models/common.h"
#include "layers/models/mnist.h"
#include "layers/models/mobilenetv2.h"
#include "layers/models/resnet_cifar.h"
#include "layers/models/resnet_imagenet.h"
#include "layers/models/shiftresnet.h"

namespace sl {

namespace {

using Builder = std::function<ModulePtr(const std::string&, const ModelOptions&)>;

struct Entry {
  ModelInfo info;
  Builder build;
};

ModelOptions natural(int64_t classes, int64_t channels, int64_t size, const std::string& shortcut) {
  ModelOptions o;
  o.num_classes = classes;
  o.in_channels = channels;
  o.image_size = size;
  o.shortcut = shortcut;
  return o;
}

const std::vector<Entry>& table() {
  static const std::vector<Entry> entries = [] {
    const std::string ds_resnet = "DeepShift pytorch/cifar10_models/resnet.py (akamaster layout, He et al. 2016 §4.2)";
    std::vector<Entry> t;
    t.push_back({{"mnist-fc",
                  "DeepShift's simple FC MNIST net: 3 Linear layers (784-512-512-10), ReLU, dropout 0.2",
                  "DeepShift pytorch/mnist.py LinearMNIST",
                  "mnist",
                  natural(10, 1, 28, ""),
                  {}},
                 models::make_mnist_fc});
    t.push_back({{"mnist-conv",
                  "DeepShift's simple conv MNIST net: conv5x5 20, conv5x5 50, max pools, fc 800-500-10",
                  "DeepShift pytorch/mnist.py ConvMNIST",
                  "mnist",
                  natural(10, 1, 28, ""),
                  {}},
                 models::make_mnist_conv});
    for (int depth : {20, 32, 44, 56, 110}) {
      int n = (depth - 2) / 6;
      t.push_back({{"resnet" + std::to_string(depth),
                    "CIFAR ResNet-" + std::to_string(depth) + ": 3 stages x " + std::to_string(n) +
                        " BasicBlocks (16/32/64 ch), shortcut A (zero pad) or B (1x1 conv + BN)",
                    ds_resnet,
                    "cifar",
                    natural(10, 3, 32, "A"),
                    {"A", "B"},
                    false,
                    true},
                   models::make_resnet_cifar});
    }
    t.push_back({{"resnet18",
                  "DeepShift's CIFAR ResNet-18: 3x3 stem, 4 stages x 2 BasicBlocks (64-512 ch) with option-A "
                  "shortcuts, 4x4 avg pool (B = kuangliu's projection version)",
                  ds_resnet,
                  "cifar",
                  natural(10, 3, 32, "A"),
                  {"A", "B"}},
                 models::make_resnet18_cifar});
    t.push_back({{"mobilenetv2",
                  "MobileNetV2 for CIFAR (stem and second stage at stride 1, 4x4 avg pool)",
                  "DeepShift pytorch/cifar10_models/mobilenetv2.py (kuangliu pytorch-cifar)",
                  "cifar",
                  natural(10, 3, 32, ""),
                  {}},
                 models::make_mobilenetv2});
    for (const char* depth : {"18", "34", "50"}) {
      bool bottleneck = std::string(depth) == "50";
      t.push_back({{std::string("imagenet-resnet") + depth,
                    std::string("torchvision ResNet-") + depth + (bottleneck ? " (Bottleneck v1.5)" : " (BasicBlock)") +
                        ": 7x7/2 stem, max pool, 4 stages, 1x1-conv downsample, adaptive avg pool, fc",
                    "torchvision/models/resnet.py",
                    "imagenet",
                    natural(1000, 3, 224, "B"),
                    {"B"}},
                   models::make_resnet_imagenet});
    }
    for (int depth : {20, 56, 110}) {
      int n = (depth - 2) / 6;
      t.push_back({{"shiftresnet" + std::to_string(depth),
                    "ShiftResNet-" + std::to_string(depth) + ": the CIFAR ResNet layout with " + std::to_string(n) +
                        " conv1x1-shift-conv1x1 blocks per stage (16/32/64 ch, middle width int(out * expansion)), "
                        "projection shortcuts",
                    "alvinwan/shiftresnet-cifar models/shiftresnet.py (Wu et al. 2018, arXiv 1711.08141)",
                    "cifar",
                    natural(10, 3, 32, ""),
                    {},
                    true,
                    false},
                   models::make_shiftresnet});
    }
    return t;
  }();
  return entries;
}

// expansion / shift_kernel (ShiftResNets) and reduction / reduction_mode (CIFAR ResNets): valid
// values, and only on the models that have them.
void check_shift_options(const std::string& arch, const ModelInfo& info, const ModelOptions& o) {
  SL_CHECK(std::isfinite(o.expansion) && o.expansion > 0,
           "make_model(\"{}\"): expansion must be a positive number, got {}", arch, o.expansion);
  SL_CHECK(o.expansion == 1 || info.has_expansion,
           "make_model(\"{}\"): expansion {} applies only to the ShiftResNets (shiftresnet20/56/110), whose "
           "conv-shift-conv blocks it widens",
           arch, o.expansion);
  SL_CHECK(
      o.shift_kernel >= 1 && o.shift_kernel % 2 == 1,
      "make_model(\"{}\"): shift_kernel must be odd and positive (the shift's k x k neighbourhood is centred), got {}",
      arch, o.shift_kernel);
  SL_CHECK(o.shift_kernel == 3 || info.has_expansion,
           "make_model(\"{}\"): shift_kernel {} applies only to the ShiftResNets (shiftresnet20/56/110)", arch,
           o.shift_kernel);
  SL_CHECK(std::isfinite(o.reduction) && o.reduction > 0,
           "make_model(\"{}\"): reduction must be a positive number, got {}", arch, o.reduction);
  SL_CHECK(
      o.reduction == 1 || info.has_reduction,
      "make_model(\"{}\"): reduction {} applies only to the CIFAR ResNets resnet20/32/44/56/110 (shiftresnet-cifar's "
      "baselines); it is not defined for this model",
      arch, o.reduction);
  const std::string& m = o.reduction_mode;
  bool upstream_only = m == "depthwise" || m == "shuffle" || m == "mobile";
  SL_CHECK(m.empty() || m == "net" || m == "block",
           "make_model(\"{}\"): reduction_mode must be \"net\" or \"block\", got \"{}\"{}", arch, m,
           upstream_only
               ? " (count.py lists it, but shiftresnet-cifar's ResNet at 289a1a1 has no such mode; not supported)"
               : "");
  SL_CHECK(m != "block" || info.has_reduction,
           "make_model(\"{}\"): reduction_mode \"{}\" applies only to the CIFAR ResNets resnet20/32/44/56/110", arch,
           m);
}

const Entry& find(const std::string& arch) {
  for (const Entry& e : table())
    if (e.info.name == arch) return e;
  fail("unknown model architecture '{}'; valid names: {}", arch, fmt::join(model_names(), ", "));
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const Entry& e : table()) names.push_back(e.info.name);
  return names;
}

const ModelInfo& model_info(const std::string& arch) { return find(arch).info; }

const std::vector<ModelInfo>& model_infos() {
  static const std::vector<ModelInfo> infos = [] {
    std::vector<ModelInfo> v;
    for (const Entry& e : table()) v.push_back(e.info);
    return v;
  }();
  return infos;
}

ModulePtr make_model(const std::string& arch, const ModelOptions& o) {
  const Entry& e = find(arch);
  SL_CHECK(o.num_classes > 0, "make_model(\"{}\"): num_classes must be positive, got {}", arch, o.num_classes);
  SL_CHECK(o.in_channels > 0, "make_model(\"{}\"): in_channels must be positive, got {}", arch, o.in_channels);
  SL_CHECK(o.image_size > 0, "make_model(\"{}\"): image_size must be positive, got {}", arch, o.image_size);
  if (!o.shortcut.empty()) {
    const auto& ok = e.info.shortcuts;
    SL_CHECK(o.shortcut == "A" || o.shortcut == "B", "make_model(\"{}\"): shortcut must be \"A\" or \"B\", got \"{}\"",
             arch, o.shortcut);
    SL_CHECK(std::find(ok.begin(), ok.end(), o.shortcut) != ok.end(),
             "make_model(\"{}\"): shortcut \"{}\" does not apply to this model (accepted: {})", arch, o.shortcut,
             ok.empty() ? std::string("none") : fmt::format("{}", fmt::join(ok, ", ")));
  }
  SL_CHECK(o.init.empty() || o.init == "pytorch" || o.init == "kaiming-fan-out",
           "make_model(\"{}\"): init must be \"pytorch\" or \"kaiming-fan-out\" (or empty), got \"{}\"", arch, o.init);
  check_shift_options(arch, e.info, o);
  return e.build(arch, o);
}

namespace models {

void kaiming_fan_out_init(Module& model, Generator& gen) {
  for (auto& kv : model.named_modules()) {
    if (auto* c = dynamic_cast<Conv2d*>(kv.second.get())) {
      if (!c->weight().defined()) continue;
      Tensor w = c->weight();
      init::kaiming_normal_(w, 0, init::FanMode::fan_out, "relu", gen);
    } else if (auto* bn = dynamic_cast<BatchNormBase*>(kv.second.get())) {
      if (!bn->options().affine()) continue;
      Tensor g = bn->weight(), b = bn->bias();
      init::ones_(g);
      init::zeros_(b);
    }
  }
}

void apply_init(Module& model, const ModelOptions& options, const std::string& reference) {
  // Layers are constructed with PyTorch's defaults, so only the fan-out variant needs a pass.
  const std::string& want = options.init.empty() ? reference : options.init;
  if (want == "kaiming-fan-out") kaiming_fan_out_init(model);
}

}  // namespace models

}  // namespace sl
