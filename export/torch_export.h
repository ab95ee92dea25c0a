// A trained model as a PyTorch state_dict (`shiftlab export --format torch`): every Conv2d / Linear
// with its effective weight (what the forward multiplies by: DeepShift's sign * 2^p, APoT's levels
// times alpha, ...), batch norms and biases as they are, no latent or quantizer tensors, under the
// names of the PyTorch reference class, so `load_state_dict(strict=True)` takes it:
//   imagenet-resnet18/34/50        torchvision.models.resnet18/34/50 (the same names)
//   resnet20/32/44/56/110          ResNetCifar(n=(depth-2)/6, shortcut) of bench/torch_ref.py: `layers.K.*`
//   mnist-fc, mnist-conv           torch_ref.py's mnist_fc() / mnist_conv() nn.Sequential: `1.weight`, ...
//   the others                     shiftlab's names (those of the DeepShift / shiftresnet-cifar modules)
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"
#include "layers/module.h"

namespace sl {

struct TorchStateDict {
  std::vector<std::pair<std::string, Tensor>> tensors;  // CPU, in the model's order
  std::string reference;                                // the PyTorch class the names are those of
  int64_t quantized_inputs = 0;  // layers whose input quantizer a weights-only file cannot carry
};

// `arch` and `reduction` pick the names (a reduced CIFAR ResNet keeps shiftlab's). The model is put
// in eval mode.
TorchStateDict torch_state_dict(Module& model, const std::string& arch, double reduction = 1);
// shiftlab's name of a tensor -> the reference's ("layer2.1.conv1.weight" -> "layers.4.conv1.weight").
std::string torch_name(const std::string& name, const std::string& arch, double reduction = 1);

// A file of torch_state_dict read back (`--weights model.torch.safetensors`): its reference names
// become the model's again. Tensors the model does not name stay as they are (and are reported as
// unexpected by the load).
void rename_from_torch(std::map<std::string, Tensor>& tensors, const Module& model, const std::string& arch,
                       double reduction = 1);

}  // namespace sl
