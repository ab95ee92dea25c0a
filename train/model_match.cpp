#include "train/model_match.h"

#include <fmt/format.h>

#include <cstdint>

#include "engine/error.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/weight_layer.h"

namespace sl {

namespace {

// The first and last weight layers of a model: their weights' names give the input channels
// (dimension 1 of the first) and the classes (dimension 0 of the last, a Linear in every zoo model).
struct EndLayers {
  std::string first, last;
};

EndLayers end_layers(const Module& model) {
  EndLayers e;
  for (auto& [name, m] : model.named_modules()) {
    if (!std::dynamic_pointer_cast<WeightLayer>(m)) continue;
    if (e.first.empty()) e.first = name + ".weight";
    if (std::dynamic_pointer_cast<Linear>(m)) e.last = name + ".weight";
  }
  return e;
}

int64_t dim_of(const std::map<std::string, Tensor>& tensors, const std::string& name, int64_t d, int64_t fallback) {
  auto it = tensors.find(name);
  if (it == tensors.end() || it->second.dim() <= d || it->second.size(d) <= 0) return fallback;
  return it->second.size(d);
}

bool fits(const Module& model, const std::map<std::string, Tensor>& tensors) {
  NamedTensors mine = model.state_dict();
  if (mine.size() != tensors.size()) return false;
  for (auto& [name, t] : mine) {
    auto it = tensors.find(name);
    if (it == tensors.end() || it->second.shape() != t.shape()) return false;
  }
  return true;
}

std::string join_limited(const std::vector<std::string>& items, size_t limit) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < limit; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > limit) s += fmt::format(", ... ({} more)", items.size() - limit);
  return s;
}

}  // namespace

ModelOptions options_from_tensors(const std::string& arch, const std::map<std::string, Tensor>& tensors) {
  init::SkipRandomInit names_only;
  ModelOptions o = model_info(arch).natural;
  EndLayers ends = end_layers(*make_model(arch, o));
  o.num_classes = dim_of(tensors, ends.last, 0, o.num_classes);
  o.in_channels = dim_of(tensors, ends.first, 1, o.in_channels);
  return o;
}

std::string closest_model(const std::map<std::string, Tensor>& tensors) {
  init::SkipRandomInit names_only;
  std::string best;
  size_t best_wrong = SIZE_MAX;
  for (const ModelInfo& info : model_infos()) {
    ModulePtr probe;
    try {
      probe = make_model(info.name, options_from_tensors(info.name, tensors));
    } catch (const Error&) {
      continue;
    }
    size_t wrong = 0;
    NamedTensors mine = probe->state_dict();
    for (auto& [name, t] : mine) {
      auto it = tensors.find(name);
      wrong += it == tensors.end() || it->second.shape() != t.shape();
    }
    wrong += tensors.size() > mine.size() ? tensors.size() - mine.size() : 0;
    if (wrong < best_wrong) {
      best_wrong = wrong;
      best = info.name + ": " + describe_key_mismatch(*probe, tensors, 4);
    }
  }
  return best;
}

std::vector<ModelMatch> match_models(const std::map<std::string, Tensor>& tensors) {
  init::SkipRandomInit names_only;
  std::vector<ModelMatch> found;
  for (const ModelInfo& info : model_infos()) {
    std::vector<std::string> shortcuts = info.shortcuts;
    if (shortcuts.empty()) shortcuts.push_back("");
    for (const std::string& shortcut : shortcuts) {
      ModelOptions o = info.natural;
      o.shortcut = shortcut;
      ModulePtr probe;
      try {
        probe = make_model(info.name, o);
        // A cheap first test: the same number of tensors.
        if (probe->state_dict().size() != tensors.size()) continue;
        EndLayers ends = end_layers(*probe);
        o.num_classes = dim_of(tensors, ends.last, 0, o.num_classes);
        o.in_channels = dim_of(tensors, ends.first, 1, o.in_channels);
        if (o.num_classes != info.natural.num_classes || o.in_channels != info.natural.in_channels)
          probe = make_model(info.name, o);
      } catch (const Error&) {
        continue;  // the tensors ask for options this model cannot take
      }
      // The first fit ends the search: building every zoo model (ImageNet ResNets initialise tens of
      // millions of weights) would cost seconds on each load of a file.
      if (fits(*probe, tensors)) return {{info.name, o}};
    }
  }
  return {};
}

std::string describe_key_mismatch(const Module& model, const std::map<std::string, Tensor>& tensors, size_t limit) {
  NamedTensors mine = model.state_dict();
  std::vector<std::string> missing, unexpected, shapes;
  std::map<std::string, const Tensor*> own;
  for (auto& [name, t] : mine) {
    own[name] = &t;
    auto it = tensors.find(name);
    if (it == tensors.end()) missing.push_back(name);
    else if (it->second.shape() != t.shape())
      shapes.push_back(fmt::format("{} (file {}, model {})", name, shape_str(it->second.shape()), shape_str(t.shape())));
  }
  for (auto& [name, t] : tensors)
    if (!own.count(name)) unexpected.push_back(name);
  std::vector<std::string> parts;
  if (!missing.empty()) parts.push_back(fmt::format("missing keys ({}): {}", missing.size(), join_limited(missing, limit)));
  if (!unexpected.empty())
    parts.push_back(fmt::format("unexpected keys ({}): {}", unexpected.size(), join_limited(unexpected, limit)));
  if (!shapes.empty())
    parts.push_back(fmt::format("shape mismatches ({}): {}", shapes.size(), join_limited(shapes, limit)));
  std::string s;
  for (const std::string& part : parts) s += (s.empty() ? "" : "; ") + part;
  return s;
}

}  // namespace sl
