// MAC counting through the records WeightLayer keeps of each forward.
#include "layers/flops.h"

#include "engine/factory.h"
#include "layers/weight_layer.h"

namespace sl {

std::vector<LayerMacs> layer_macs(Module& model, const Shape& input) {
  NamedModules modules = model.named_modules();
  std::vector<WeightLayer*> layers;
  std::vector<std::string> names;
  for (auto& kv : modules) {
    if (auto* l = dynamic_cast<WeightLayer*>(kv.second.get())) {
      l->reset_macs();
      layers.push_back(l);
      names.push_back(kv.first);
    }
  }
  // Save every module's mode (they may differ), run in eval mode, restore.
  std::vector<bool> modes;
  for (auto& kv : modules) modes.push_back(kv.second->is_training());
  bool top_mode = model.is_training();
  Device device = Device::cpu;
  NamedTensors params = model.named_parameters();
  if (!params.empty()) device = params.front().second.device();
  auto restore = [&] {
    model.train(top_mode);  // pre-order: a parent is reset before its children
    for (size_t i = 0; i < modules.size(); ++i) modules[i].second->train(modes[i]);
  };
  model.eval();
  try {
    NoGradGuard no_grad;
    model.forward(zeros(input, DType::f32, device));
  } catch (...) {
    restore();
    throw;
  }
  restore();

  std::vector<LayerMacs> out;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i]->last_input_shape().empty()) continue;  // not reached by this forward
    out.push_back({names[i], layers[i]->type_name(), layers[i]->last_input_shape(), layers[i]->last_output_shape(),
                   layers[i]->recorded_macs()});
  }
  return out;
}

int64_t count_macs(Module& model, const Shape& input) {
  int64_t total = 0;
  for (const auto& l : layer_macs(model, input)) total += l.macs;
  return total;
}

}  // namespace sl
