// Optimizer base: parameter groups, name-keyed state and its (de)serialisation.
#include "train/optimizer.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "engine/factory.h"
#include "layers/batch_norm.h"
#include "train/adam.h"
#include "train/radam.h"
#include "train/sgd.h"

namespace sl {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
const std::string kStep = "optimizer.step", kGroup = "optimizer.group.", kState = "optimizer.state.";
}  // namespace

std::vector<ParamGroup> split_param_groups(const NamedTensors& params, const NamePredicate& pred,
                                           const OptimizerOptions& rest, const OptimizerOptions& matched) {
  ParamGroup a{{}, rest}, b{{}, matched};
  for (const auto& kv : params) (pred(kv.first) ? b : a).params.push_back(kv);
  std::vector<ParamGroup> out;
  if (!a.params.empty()) out.push_back(std::move(a));
  if (!b.params.empty()) out.push_back(std::move(b));
  return out;
}

NamePredicate no_weight_decay(const Module& model) {
  std::set<std::string> bn;
  for (const auto& kv : model.named_modules()) {
    if (!dynamic_cast<const BatchNormBase*>(kv.second.get())) continue;
    for (const auto& p : kv.second->named_parameters())
      bn.insert(kv.first.empty() ? p.first : kv.first + "." + p.first);
  }
  return [bn](const std::string& name) {
    return bn.count(name) > 0 || ends_with(name, ".bias") || name == "bias" || ends_with(name, "alpha") ||
           ends_with(name, "scale");
  };
}

std::vector<ParamGroup> weight_decay_groups(const Module& model, const OptimizerOptions& options) {
  OptimizerOptions no_decay = options;
  no_decay.weight_decay(0);
  return split_param_groups(model.named_parameters(), no_weight_decay(model), options, no_decay);
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, const std::string& name) : groups_(std::move(groups)) {
  SL_CHECK(!groups_.empty(), "{}: no parameter groups", name);
  std::set<std::string> names;
  std::set<const TensorImpl*> impls;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (const auto& kv : groups_[g].params) {
      SL_CHECK(kv.second.defined(), "{}: parameter '{}' (group {}) is undefined", name, kv.first, g);
      SL_CHECK(is_floating(kv.second.dtype()), "{}: parameter '{}' has dtype {}; only f32 and f64 can be optimized",
               name, kv.first, kv.second.dtype());
      SL_CHECK(names.insert(kv.first).second, "{}: parameter name '{}' appears twice", name, kv.first);
      SL_CHECK(impls.insert(kv.second.impl()).second, "{}: the tensor of '{}' appears twice", name, kv.first);
    }
  }
}

void Optimizer::check_all_options() const {
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto& o = groups_[g].options;
    SL_CHECK(o.lr() >= 0, "{}: lr must be >= 0, got {} (group {})", type_name(), o.lr(), g);
    SL_CHECK(o.weight_decay() >= 0, "{}: weight_decay must be >= 0, got {} (group {})", type_name(), o.weight_decay(),
             g);
    check_options(o, g);
  }
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (auto& group : groups_) {
    for (auto& kv : group.params) {
      Tensor g = kv.second.grad();
      if (!g.defined()) continue;
      update(kv.first, kv.second, g, group.options);
    }
  }
  ++steps_;
}

void Optimizer::zero_grad() {
  for (auto& group : groups_)
    for (auto& kv : group.params) kv.second.set_grad(Tensor());
}

double Optimizer::lr(size_t group) const {
  SL_CHECK(group < groups_.size(), "{}: group {} is out of range ({} groups)", type_name(), group, groups_.size());
  return groups_[group].options.lr();
}

void Optimizer::set_lr(size_t group, double lr) {
  SL_CHECK(group < groups_.size(), "{}: group {} is out of range ({} groups)", type_name(), group, groups_.size());
  SL_CHECK(lr >= 0, "{}: lr must be >= 0, got {}", type_name(), lr);
  groups_[group].options.lr(lr);
}

void Optimizer::set_lr(double lr) {
  for (size_t g = 0; g < groups_.size(); ++g) set_lr(g, lr);
}

Tensor& Optimizer::state_tensor(const std::string& name, const std::string& key, const Tensor& like) {
  auto& s = state_[name];
  auto it = s.find(key);
  if (it == s.end()) it = s.emplace(key, zeros(like.shape(), like.dtype(), like.device())).first;
  // State follows its parameter (loaded from a checkpoint on the CPU, or the model moved since).
  if (it->second.device() != like.device()) it->second = it->second.to(like.device());
  return it->second;
}

bool Optimizer::has_state(const std::string& name, const std::string& key) const {
  auto it = state_.find(name);
  return it != state_.end() && it->second.count(key) > 0;
}

int64_t Optimizer::increment_step(const std::string& name) {
  auto& s = state_[name];
  auto it = s.find("step");
  if (it == s.end()) it = s.emplace("step", zeros({}, DType::i64)).first;
  return ++it->second.data<int64_t>()[0];
}

const std::map<std::string, Tensor>& Optimizer::state(const std::string& param) const {
  static const std::map<std::string, Tensor> empty;
  auto it = state_.find(param);
  return it == state_.end() ? empty : it->second;
}

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  out.emplace_back(kStep, scalar_tensor(static_cast<double>(steps_), DType::i64));
  for (size_t g = 0; g < groups_.size(); ++g)
    out.emplace_back(kGroup + std::to_string(g) + ".lr", scalar_tensor(groups_[g].options.lr(), DType::f64));
  for (const auto& group : groups_)
    for (const auto& kv : group.params) {
      auto it = state_.find(kv.first);
      if (it == state_.end()) continue;
      for (const auto& st : it->second) out.emplace_back(kState + kv.first + "." + st.first, st.second.clone());
    }
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  // Validate everything first so a failed load leaves the optimizer unchanged.
  std::map<std::string, std::pair<const Tensor*, const OptimizerOptions*>> params;
  for (const auto& group : groups_)
    for (const auto& kv : group.params) params[kv.first] = {&kv.second, &group.options};
  auto step_it = state.find(kStep);
  SL_CHECK(step_it != state.end(), "{}.load_state_dict: '{}' is missing", type_name(), kStep);
  size_t groups_seen = 0;
  std::map<std::string, std::map<std::string, Tensor>> fresh;
  std::vector<double> lrs(groups_.size(), -1);
  for (const auto& kv : state) {
    const std::string& key = kv.first;
    if (key == kStep) continue;
    if (key.compare(0, kGroup.size(), kGroup) == 0) {
      size_t dot = key.find('.', kGroup.size());
      std::string idx = key.substr(kGroup.size(), dot == std::string::npos ? std::string::npos : dot - kGroup.size());
      SL_CHECK(dot != std::string::npos && key.substr(dot) == ".lr" && !idx.empty() &&
                   std::all_of(idx.begin(), idx.end(), [](unsigned char c) { return std::isdigit(c); }),
               "{}.load_state_dict: unexpected key '{}'", type_name(), key);
      size_t g = std::stoul(idx);
      SL_CHECK(g < groups_.size(), "{}.load_state_dict: '{}' refers to group {}, but the optimizer has {} group(s)",
               type_name(), key, g, groups_.size());
      lrs[g] = kv.second.item();
      ++groups_seen;
      continue;
    }
    SL_CHECK(key.compare(0, kState.size(), kState) == 0, "{}.load_state_dict: unexpected key '{}'", type_name(), key);
    size_t last = key.rfind('.');
    SL_CHECK(last > kState.size(), "{}.load_state_dict: malformed key '{}'", type_name(), key);
    std::string pname = key.substr(kState.size(), last - kState.size()), skey = key.substr(last + 1);
    auto p = params.find(pname);
    SL_CHECK(p != params.end(), "{}.load_state_dict: '{}' is for parameter '{}', which this optimizer does not have",
             type_name(), key, pname);
    auto keys = state_keys(*p->second.second);
    SL_CHECK(std::find(keys.begin(), keys.end(), skey) != keys.end(),
             "{}.load_state_dict: '{}' has state '{}', which {} does not keep (it keeps: {})", type_name(), key, skey,
             type_name(), fmt::join(keys, ", "));
    const Tensor& src = kv.second;
    const Tensor& param = *p->second.first;
    if (skey == "step") {
      SL_CHECK(src.numel() == 1 && src.dtype() == DType::i64, "{}.load_state_dict: '{}' must be an i64 scalar",
               type_name(), key);
    } else {
      SL_CHECK(src.shape() == param.shape(), "{}.load_state_dict: '{}' has shape {} but the parameter has {}",
               type_name(), key, shape_str(src.shape()), shape_str(param.shape()));
      SL_CHECK(src.dtype() == param.dtype(), "{}.load_state_dict: '{}' has dtype {} but the parameter has {}",
               type_name(), key, src.dtype(), param.dtype());
    }
    // Moments go where their parameter is; the step count stays on the host, which reads it.
    fresh[pname][skey] = src.detach().to(skey == "step" ? Device::cpu : param.device()).clone();
  }
  if (groups_seen > 0 && groups_seen < groups_.size()) {
    // A checkpoint from before weight decay split off a group without decay (one lr for what are
    // now several groups): when its groups all had one lr, every parameter trained with it, and so
    // do the new groups.
    std::vector<double> seen;
    for (double lr : lrs)
      if (lr >= 0) seen.push_back(lr);
    if (std::all_of(seen.begin(), seen.end(), [&](double lr) { return lr == seen.front(); })) {
      for (double& lr : lrs)
        if (lr < 0) lr = seen.front();
      groups_seen = groups_.size();
    }
  }
  SL_CHECK(groups_seen == groups_.size(), "{}.load_state_dict: the state has lrs for {} group(s), the optimizer has {}",
           type_name(), groups_seen, groups_.size());
  state_ = std::move(fresh);
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options.lr(lrs[g]);
  steps_ = static_cast<int64_t>(step_it->second.item());
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<ParamGroup> groups) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "sgd") return std::make_unique<SGD>(std::move(groups));
  if (n == "adam") return std::make_unique<Adam>(std::move(groups));
  if (n == "adamw") return std::make_unique<AdamW>(std::move(groups));
  if (n == "radam") return std::make_unique<RAdam>(std::move(groups));
  if (n == "ranger") return std::make_unique<Ranger>(std::move(groups));
  fail("unknown optimizer '{}'; valid names: sgd, adam, adamw, radam, ranger", name);
}

}  // namespace sl
