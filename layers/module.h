// Module: named parameters, buffers and children with PyTorch's dotted names
// (`layer1.0.conv1.weight`, `bn1.running_mean`), train/eval mode, and state dicts.
//
// A child registered under the empty name is "inline": its parameters appear directly under the
// parent's prefix. Weight parametrizations (quantizers) use this, so a DeepShift-PS conv exposes
// `conv1.shift` and `conv1.sign` exactly as the original code names them.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops.h"

namespace sl {

class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using NamedModules = std::vector<std::pair<std::string, ModulePtr>>;

class Module {
 public:
  virtual ~Module() = default;
  // The class name shown in summaries and errors ("Conv2d", "BasicBlock", ...).
  virtual std::string type_name() const = 0;
  // Single-input modules; modules with other signatures provide their own call.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  NamedTensors named_parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  // Direct children, and all modules below this one (pre-order, dotted names).
  const NamedModules& named_children() const { return children_; }
  NamedModules named_modules() const;
  ModulePtr child(const std::string& name) const;  // throws when absent

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();  // drops accumulated gradients (PyTorch's set_to_none)
  int64_t parameter_count() const;

  // Parameters then buffers, by dotted name.
  NamedTensors state_dict() const;
  // Copies values into the existing tensors (their storage is kept). With strict, every key of
  // the module must be present and no extra key may be; shape/dtype mismatches always throw.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);
  // Moves parameters and buffers to `device` (in place: the handles are kept).
  void to(Device device);

  // Replaces the child `name` (used by conversions that swap a layer for its quantized twin).
  void replace_child(const std::string& name, ModulePtr module);

 protected:
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  void remove_parameter(const std::string& name);
  // Unregisters the child `m` (found by identity, so inline children with empty names can be removed).
  void remove_module(const Module* m);
  // Each parameter/buffer is a handle; these find the one registered under `name` in this module.
  Tensor& parameter_ref(const std::string& name);

  virtual void on_train(bool) {}

 private:
  void add_child(const std::string& name, ModulePtr m);
  void collect(const std::string& prefix, bool params, bool recurse, NamedTensors& out) const;
  void check_new_name(const std::string& name) const;

  NamedTensors params_, buffers_;
  NamedModules children_;
  bool training_ = true;
};

}  // namespace sl
