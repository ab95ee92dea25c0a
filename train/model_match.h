// Checkpoints without shiftlab metadata (a torchvision / timm / any PyTorch state_dict saved as
// safetensors): which zoo model their tensor names and shapes fit, and, when they fit none, which
// keys are missing and unexpected.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "layers/models/registry.h"

namespace sl {

struct ModelMatch {
  std::string arch;
  ModelOptions options;  // classes and input channels read from the tensors; the model's natural size
};

// The first zoo model (in model_infos() order; FP32, natural options with the classifier's classes
// and the first layer's input channels taken from the tensors, every accepted shortcut) whose
// state_dict has exactly these names and shapes; empty when none has (no two zoo models share a
// layout).
std::vector<ModelMatch> match_models(const std::map<std::string, Tensor>& tensors);
// The options of `arch` with the classes and input channels read from the tensors (natural ones when
// the tensors lack the layers).
ModelOptions options_from_tensors(const std::string& arch, const std::map<std::string, Tensor>& tensors);
// The zoo model (as in match_models) whose state_dict differs least from the tensors, with the
// difference: "imagenet-resnet34: missing keys (...)".
std::string closest_model(const std::map<std::string, Tensor>& tensors);
// "missing keys (2): a, b; unexpected keys (1): c; shape mismatches (1): d (file [10, 512], model [1000, 512])"
// between a model's state_dict and a checkpoint; "" when they fit. Lists at most `limit` of each.
std::string describe_key_mismatch(const Module& model, const std::map<std::string, Tensor>& tensors, size_t limit = 6);

}  // namespace sl
