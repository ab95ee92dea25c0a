// Optimizers over a module's named parameters, with PyTorch's parameter groups.
//
// Every group has its parameters (with their dotted names) and a full OptimizerOptions; each
// algorithm reads the fields it uses. Per-parameter state (momentum buffers, moments, lookahead
// weights) is keyed by the parameter's name, never by pointer, so it survives a rebuild of the model
// and round-trips through state_dict() / load_state_dict(). Updates run in place on the parameter's
// storage (the handle and its TensorImpl are kept) without recording a graph, in the parameter's
// dtype (f32 math for f32 parameters, as PyTorch).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"
#include "layers/options.h"

namespace sl {

struct OptimizerOptions {
  // PyTorch's defaults for each algorithm (DeepShift's for RAdam and Ranger); chain setters to change them.
  static OptimizerOptions sgd(double lr) { return OptimizerOptions().lr(lr); }
  static OptimizerOptions adam(double lr = 1e-3) { return OptimizerOptions().lr(lr); }
  static OptimizerOptions adamw(double lr = 1e-3) { return OptimizerOptions().lr(lr).weight_decay(1e-2); }
  static OptimizerOptions radam(double lr = 1e-3) { return OptimizerOptions().lr(lr); }
  static OptimizerOptions ranger(double lr = 1e-3) { return OptimizerOptions().lr(lr).beta1(0.95).eps(1e-5); }

  SL_ARG(double, lr) = 1e-3;
  SL_ARG(double, weight_decay) = 0;  // L2 (SGD, Adam) or decoupled (AdamW, RAdam, Ranger)
  SL_ARG(double, momentum) = 0;      // SGD
  SL_ARG(double, dampening) = 0;     // SGD
  SL_ARG(bool, nesterov) = false;    // SGD
  SL_ARG(double, beta1) = 0.9;       // Adam, AdamW, RAdam, Ranger
  SL_ARG(double, beta2) = 0.999;
  SL_ARG(double, eps) = 1e-8;
  SL_ARG(bool, amsgrad) = false;        // Adam, AdamW
  SL_ARG(double, alpha) = 0.5;          // Ranger: lookahead interpolation
  SL_ARG(int64_t, k) = 6;               // Ranger: lookahead period
  SL_ARG(double, n_sma_threshold) = 5;  // Ranger: rectification threshold (RAdam uses 5, inclusive)
};

struct ParamGroup {
  NamedTensors params;
  OptimizerOptions options;
};

using NamePredicate = std::function<bool(const std::string&)>;

// Two groups: the parameters for which `pred` is false with `rest`, those for which it is true with
// `matched`. An empty group is left out.
std::vector<ParamGroup> split_param_groups(const NamedTensors& params, const NamePredicate& pred,
                                           const OptimizerOptions& rest, const OptimizerOptions& matched);
// The usual "no weight decay" set of `model`: biases (`*.bias`), every parameter of a BatchNorm, and
// quantizer scales (names ending in "alpha" or "scale", e.g. APoT's act_alpha).
NamePredicate no_weight_decay(const Module& model);
// split_param_groups(model params, no_weight_decay(model), options, options with weight_decay 0).
std::vector<ParamGroup> weight_decay_groups(const Module& model, const OptimizerOptions& options);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string type_name() const = 0;
  // One update of every parameter that has a gradient (the others are skipped, as PyTorch).
  void step();
  // Drops every parameter's gradient (PyTorch's set_to_none).
  void zero_grad();

  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  size_t num_groups() const { return groups_.size(); }
  double lr(size_t group = 0) const;
  void set_lr(size_t group, double lr);
  void set_lr(double lr);  // every group
  int64_t step_count() const { return steps_; }

  // "optimizer.step" (i64), "optimizer.group.<g>.lr" (f64) and "optimizer.state.<param>.<key>"
  // with key in state_keys() (per-parameter "step" is i64, the buffers have the parameter's dtype).
  NamedTensors state_dict() const;
  // Restores what state_dict() wrote. Throws naming the key on: a parameter or state key this
  // optimizer does not have, a shape/dtype mismatch, or a group count mismatch. Parameters with no
  // saved state start fresh.
  void load_state_dict(const std::map<std::string, Tensor>& state);
  // The per-parameter state of `param` (empty before its first update).
  const std::map<std::string, Tensor>& state(const std::string& param) const;

 protected:
  Optimizer(std::vector<ParamGroup> groups, const std::string& name);
  // Checks the options of every group (called by subclass constructors, naming the group).
  virtual void check_options(const OptimizerOptions& o, size_t group) const = 0;
  void check_all_options() const;
  // The keys a parameter's state may hold.
  virtual std::vector<std::string> state_keys(const OptimizerOptions& o) const = 0;
  // Updates one parameter in place from its gradient (state tensors live on the host; see
  // detail::with_host_data for host access to the parameter).
  virtual void update(const std::string& name, Tensor& param, const Tensor& grad, const OptimizerOptions& o) = 0;

  // The state tensor `key` of `name`, created as zeros shaped like `like` (dtype of `like`) if absent.
  Tensor& state_tensor(const std::string& name, const std::string& key, const Tensor& like);
  bool has_state(const std::string& name, const std::string& key) const;
  // Per-parameter step counter (i64 state "step"): incremented and returned.
  int64_t increment_step(const std::string& name);

 private:
  std::vector<ParamGroup> groups_;
  std::map<std::string, std::map<std::string, Tensor>> state_;
  int64_t steps_ = 0;
};

// Builds "sgd", "adam", "adamw", "radam" or "ranger" (the name is case-insensitive).
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<ParamGroup> groups);

}  // namespace sl
