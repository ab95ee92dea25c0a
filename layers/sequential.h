// Sequential (torch.nn.Sequential): children named "0", "1", ... (or given names), applied in order.
// An empty Sequential is the identity, which is how the CIFAR ResNets spell "no shortcut".
#pragma once
#include <initializer_list>

#include "layers/module.h"

namespace sl {

class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<ModulePtr> modules);
  std::string type_name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x) override;

  // Appends under the next index as name, or under `name`.
  void push_back(ModulePtr module);
  void push_back(const std::string& name, ModulePtr module);
  size_t size() const { return named_children().size(); }
  bool empty() const { return size() == 0; }
  const ModulePtr& operator[](size_t i) const;
  // The i-th child as type M (throws when it has another type).
  template <class M>
  std::shared_ptr<M> at(size_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    SL_CHECK(m != nullptr, "Sequential: child {} is a {}, not the requested type", i, (*this)[i]->type_name());
    return m;
  }
};

}  // namespace sl
