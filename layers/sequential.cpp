// Sequential container.
#include "layers/sequential.h"

namespace sl {

Sequential::Sequential(std::initializer_list<ModulePtr> modules) {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(ModulePtr module) { push_back(std::to_string(size()), std::move(module)); }

void Sequential::push_back(const std::string& name, ModulePtr module) {
  SL_CHECK(!name.empty(), "Sequential: children need a name");
  register_module(name, std::move(module));
}

const ModulePtr& Sequential::operator[](size_t i) const {
  SL_CHECK(i < size(), "Sequential: index {} is out of range for {} modules", i, size());
  return named_children()[i].second;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& kv : named_children()) y = kv.second->forward(y);
  return y;
}

}  // namespace sl
