#include "export/torch_export.h"

#include <fmt/format.h>

#include <cstdio>
#include <map>

#include "autograd/node.h"
#include "engine/error.h"
#include "layers/parametrization.h"
#include "layers/weight_layer.h"

namespace sl {

namespace {

bool is_cifar_resnet(const std::string& arch) {
  return arch == "resnet20" || arch == "resnet32" || arch == "resnet44" || arch == "resnet56" || arch == "resnet110";
}

// Module renames of torch_ref.py's nn.Sequential MNIST models (their indices count ReLU, pooling,
// dropout and flatten too).
const std::map<std::string, std::map<std::string, std::string>>& sequential_names() {
  static const std::map<std::string, std::map<std::string, std::string>> m = {
      {"mnist-fc", {{"fc1", "1"}, {"fc2", "4"}, {"fc3", "7"}}},
      {"mnist-conv", {{"conv1", "0"}, {"conv2", "3"}, {"fc1", "7"}, {"fc2", "9"}}},
  };
  return m;
}

void add(TorchStateDict& out, const std::string& prefix, const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors)
    out.tensors.emplace_back(prefix.empty() ? name : prefix + "." + name, t.detach().to(Device::cpu).contiguous());
}

}  // namespace

std::string torch_name(const std::string& name, const std::string& arch, double reduction) {
  if (is_cifar_resnet(arch) && reduction == 1) {
    // layer{S}.{I}.rest -> layers.{(S-1)*n + I}.rest with n blocks per stage.
    int64_t n = (std::stoll(arch.substr(6)) - 2) / 6;
    unsigned stage = 0, index = 0;
    int used = 0;
    if (std::sscanf(name.c_str(), "layer%u.%u.%n", &stage, &index, &used) == 2 && used > 0 && stage >= 1)
      return fmt::format("layers.{}.{}", (static_cast<int64_t>(stage) - 1) * n + index, name.substr(static_cast<size_t>(used)));
    return name;
  }
  auto seq = sequential_names().find(arch);
  if (seq == sequential_names().end()) return name;
  size_t dot = name.find('.');
  auto renamed = seq->second.find(name.substr(0, dot));
  return renamed == seq->second.end() ? name : renamed->second + name.substr(dot);
}

void rename_from_torch(std::map<std::string, Tensor>& tensors, const Module& model, const std::string& arch,
                       double reduction) {
  for (const auto& [name, t] : model.state_dict()) {
    std::string theirs = torch_name(name, arch, reduction);
    auto it = tensors.find(theirs);
    if (theirs == name || it == tensors.end() || tensors.count(name)) continue;
    tensors[name] = it->second;
    tensors.erase(it);
  }
}

TorchStateDict torch_state_dict(Module& model, const std::string& arch, double reduction) {
  model.eval();
  NoGradGuard no_grad;
  TorchStateDict out;
  add(out, "", model.named_parameters(false));
  add(out, "", model.named_buffers(false));
  for (auto& [name, m] : model.named_modules()) {
    if (auto layer = std::dynamic_pointer_cast<WeightLayer>(m)) {
      add(out, name, {{"weight", layer->effective_weight()}});
      Tensor bias = layer->effective_bias();
      if (bias.defined()) add(out, name, {{"bias", bias}});
      out.quantized_inputs += layer->input_quantizer() != nullptr;
      continue;
    }
    // A layer's hooks hold latents and quantizer scales, which the effective weight already applies.
    if (std::dynamic_pointer_cast<WeightParametrization>(m) || std::dynamic_pointer_cast<InputQuantizer>(m)) continue;
    add(out, name, m->named_parameters(false));
    add(out, name, m->named_buffers(false));
  }
  for (auto& [name, t] : out.tensors) name = torch_name(name, arch, reduction);
  if (arch.rfind("imagenet-", 0) == 0) out.reference = "torchvision.models." + arch.substr(9);
  else if (is_cifar_resnet(arch) && reduction == 1)
    out.reference = fmt::format("torch_ref.ResNetCifar(n={})", (std::stoll(arch.substr(6)) - 2) / 6);
  else if (arch == "mnist-fc") out.reference = "torch_ref.mnist_fc()";
  else if (arch == "mnist-conv") out.reference = "torch_ref.mnist_conv()";
  else out.reference = "shiftlab's module names (no PyTorch reference class)";
  return out;
}

}  // namespace sl
