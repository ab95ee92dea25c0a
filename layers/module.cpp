#include "layers/module.h"

#include <algorithm>
#include <functional>


namespace sl {

Tensor Module::forward(const Tensor&) { fail("{} has no single-input forward", type_name()); }

void Module::check_new_name(const std::string& name) const {
  auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& kv) { return kv.first == name; });
  };
  SL_CHECK(name.find('.') == std::string::npos, "{}: name '{}' must not contain '.'", type_name(), name);
  SL_CHECK(!taken(params_) && !taken(buffers_) && (name.empty() || !taken(children_)),
           "{}: '{}' is already registered", type_name(), name);
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  SL_CHECK(!name.empty(), "{}: parameters need a name", type_name());
  check_new_name(name);
  if (requires_grad) t.requires_grad_();
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  SL_CHECK(!name.empty(), "{}: buffers need a name", type_name());
  check_new_name(name);
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, ModulePtr m) {
  SL_CHECK(m != nullptr, "{}: child '{}' is null", type_name(), name);
  check_new_name(name);
  children_.emplace_back(name, std::move(m));
}

void Module::remove_parameter(const std::string& name) {
  auto it = std::find_if(params_.begin(), params_.end(), [&](const auto& kv) { return kv.first == name; });
  SL_CHECK(it != params_.end(), "{}: no parameter '{}'", type_name(), name);
  params_.erase(it);
}

void Module::remove_module(const Module* m) {
  auto it = std::find_if(children_.begin(), children_.end(), [&](const auto& kv) { return kv.second.get() == m; });
  SL_CHECK(it != children_.end(), "{}: the module to remove is not a child", type_name());
  children_.erase(it);
}

Tensor& Module::parameter_ref(const std::string& name) {
  for (auto& kv : params_)
    if (kv.first == name) return kv.second;
  fail("{}: no parameter '{}'", type_name(), name);
}

void Module::replace_child(const std::string& name, ModulePtr module) {
  SL_CHECK(module != nullptr, "{}: replacement for '{}' is null", type_name(), name);
  for (auto& kv : children_) {
    if (kv.first == name) {
      module->train(training_);
      kv.second = std::move(module);
      return;
    }
  }
  fail("{}: no child module '{}'", type_name(), name);
}

ModulePtr Module::child(const std::string& name) const {
  for (const auto& kv : children_)
    if (kv.first == name) return kv.second;
  fail("{}: no child module '{}'", type_name(), name);
}

void Module::collect(const std::string& prefix, bool params, bool recurse, NamedTensors& out) const {
  for (const auto& kv : params ? params_ : buffers_) out.emplace_back(prefix + kv.first, kv.second);
  for (const auto& kv : children_) {
    if (!recurse && !kv.first.empty()) continue;
    kv.second->collect(kv.first.empty() ? prefix : prefix + kv.first + ".", params, recurse, out);
  }
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, recurse, out);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, recurse, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& kv : named_parameters(recurse)) out.push_back(kv.second);
  return out;
}

NamedModules Module::named_modules() const {
  // Pre-order walk below this module (the module itself is not a shared_ptr here, so it is not listed).
  NamedModules out;
  std::function<void(const std::string&, const Module&)> walk = [&](const std::string& prefix, const Module& m) {
    for (const auto& kv : m.children_) {
      std::string name = kv.first.empty() ? prefix : (prefix.empty() ? kv.first : prefix + "." + kv.first);
      out.emplace_back(name, kv.second);
      walk(name, *kv.second);
    }
  };
  walk("", *this);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  on_train(on);
  for (auto& kv : children_) kv.second->train(on);
}

void Module::zero_grad() {
  for (auto& kv : named_parameters()) kv.second.set_grad(Tensor());
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (auto& kv : named_parameters()) n += kv.second.numel();
  return n;
}

NamedTensors Module::state_dict() const {
  NamedTensors out = named_parameters();
  NamedTensors bufs = named_buffers();
  out.insert(out.end(), bufs.begin(), bufs.end());
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  NamedTensors mine = state_dict();
  std::vector<std::string> missing;
  size_t used = 0;
  for (auto& kv : mine) {
    auto it = state.find(kv.first);
    if (it == state.end()) {
      missing.push_back(kv.first);
      continue;
    }
    ++used;
    const Tensor& src = it->second;
    Tensor dst = kv.second;
    SL_CHECK(src.shape() == dst.shape(), "load_state_dict: '{}' has shape {} in the checkpoint but {} in the model",
             kv.first, shape_str(src.shape()), shape_str(dst.shape()));
    SL_CHECK(src.dtype() == dst.dtype(), "load_state_dict: '{}' has dtype {} in the checkpoint but {} in the model",
             kv.first, src.dtype(), dst.dtype());
    copy_data(dst, src);
  }
  if (strict) {
    SL_CHECK(missing.empty(), "load_state_dict: {} tensor(s) of the model are missing from the checkpoint, first '{}'",
             missing.size(), missing.empty() ? "" : missing[0]);
    if (used != state.size()) {
      for (const auto& kv : state) {
        bool known = std::any_of(mine.begin(), mine.end(), [&](const auto& m) { return m.first == kv.first; });
        SL_CHECK(known, "load_state_dict: the checkpoint has '{}', which the model does not have", kv.first);
      }
    }
  }
}

void Module::to(Device device) {
  auto move = [&](Tensor& t) {
    if (t.device() == device) return;
    Tensor moved = t.detach().to(device);
    // Swap the storage inside the existing impl so every handle (layer members, optimizers) follows.
    t.impl()->storage = moved.impl()->storage;
    t.impl()->offset = moved.impl()->offset;
  };
  for (auto& kv : params_) move(kv.second);
  for (auto& kv : buffers_) move(kv.second);
  for (auto& kv : children_) kv.second->to(device);
}

}  // namespace sl
