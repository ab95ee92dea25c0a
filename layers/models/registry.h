// The model zoo, built by name: make_model("resnet20", {classes, in_channels, image_size, shortcut}).
// Names (docs/models.md has sources, layouts, parameter counts and FLOPs):
//   mnist-fc, mnist-conv                        DeepShift pytorch/mnist.py LinearMNIST / ConvMNIST
//   resnet20, resnet32, resnet44, resnet56,     CIFAR ResNets of DeepShift cifar10_models/resnet.py
//   resnet110                                   (shortcut A by default; B = 1x1 conv + BN projection =
//                                               shiftresnet-cifar's ResNet, which `reduction` shrinks)
//   shiftresnet20, shiftresnet56, shiftresnet110  shiftresnet-cifar's ShiftResNets (conv-shift-conv
//                                               blocks, `expansion`, `shift_kernel`)
//   resnet18                                    DeepShift's CIFAR resnet18 (4 stages, option-A blocks)
//   mobilenetv2                                 DeepShift / kuangliu CIFAR MobileNetV2
//   imagenet-resnet18, -resnet34, -resnet50     torchvision's layout and names
#pragma once
#include <string>
#include <vector>

#include "layers/module.h"

namespace sl {

// A plain struct so later issues can add fields (ShiftResNet's expansion / reduction).
struct ModelOptions {
  int64_t num_classes = 10;
  int64_t in_channels = 3;
  int64_t image_size = 32;    // square inputs of image_size x image_size
  std::string shortcut = "";  // "A" | "B"; empty = the model's default (see model_info)
  // "" = the reference's own init; "pytorch" = every layer's PyTorch default; "kaiming-fan-out" =
  // torchvision's (conv weights N(0, sqrt(2 / (out * k * k))), BN gamma 1, beta 0).
  std::string init = "";
  // ShiftResNets: middle width of each conv-shift-conv block = int(out_planes * expansion), as the
  // code (not the README, which multiplies the *input* width). > 0; other models need 1.
  double expansion = 1;
  // CIFAR ResNets: shiftresnet-cifar's reduction r (> 0; 1 = none; other models need 1) and its mode,
  // "net" (every width / sqrt(r)) or "block" (each block's inner width / r); "" = "net", count.py's
  // default. A reduced ResNet has option-B shortcuts.
  double reduction = 1;
  std::string reduction_mode = "";
  // ShiftResNets: the shift's k x k neighbourhood (odd; the reference's 3). Other models need 3.
  int64_t shift_kernel = 3;
};

struct ModelInfo {
  std::string name;
  std::string description;             // one line
  std::string source;                  // paper / repository file it reproduces
  std::string dataset;                 // "mnist", "cifar" or "imagenet": what it was designed for
  ModelOptions natural;                // classes, channels, size and shortcut of the reference model
  std::vector<std::string> shortcuts;  // accepted `shortcut` values besides ""
  bool has_expansion = false;          // takes expansion / shift_kernel (the ShiftResNets)
  bool has_reduction = false;          // takes reduction / reduction_mode (the CIFAR resnetN)
};

// Throws sl::Error naming the option and its value: unknown arch (with the valid names),
// num_classes <= 0, in_channels <= 0, an image_size the model cannot take, an unknown or
// inapplicable shortcut / init, expansion <= 0, reduction <= 0, an unknown reduction_mode, an even
// shift_kernel, and expansion / shift_kernel / reduction / reduction_mode on a model without them.
ModulePtr make_model(const std::string& arch, const ModelOptions& options = {});
std::vector<std::string> model_names();
const ModelInfo& model_info(const std::string& arch);
const std::vector<ModelInfo>& model_infos();

}  // namespace sl
