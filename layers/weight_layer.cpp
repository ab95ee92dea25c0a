// WeightLayer: hooks, weight removal and FLOP records shared by Linear and Conv2d.
#include "layers/weight_layer.h"

#include <set>

namespace sl {

void WeightLayer::init_weight(Tensor w) { weight_ = register_parameter("weight", std::move(w)); }

void WeightLayer::init_bias(Tensor b) { bias_ = register_parameter("bias", std::move(b)); }

void WeightLayer::check_hook_names(const Module& hook, const char* what) const {
  std::set<std::string> mine;
  for (const auto& kv : state_dict()) mine.insert(kv.first);
  for (const auto& kv : hook.state_dict())
    SL_CHECK(!mine.count(kv.first), "{}: the {} ({}) registers '{}', which the layer already has", type_name(), what,
             hook.type_name(), kv.first);
}

void WeightLayer::set_weight_parametrization(std::shared_ptr<WeightParametrization> p) {
  if (parametrization_) {
    remove_module(parametrization_.get());
    parametrization_.reset();
  }
  if (!p) return;
  check_hook_names(*p, "weight parametrization");
  p->train(is_training());
  parametrization_ = register_module("", std::move(p));
}

void WeightLayer::set_input_quantizer(std::shared_ptr<InputQuantizer> q) {
  if (input_quantizer_) {
    remove_module(input_quantizer_.get());
    input_quantizer_.reset();
  }
  if (!q) return;
  check_hook_names(*q, "input quantizer");
  q->train(is_training());
  input_quantizer_ = register_module("", std::move(q));
}

void WeightLayer::remove_weight() {
  SL_CHECK(weight_.defined(), "{}: the weight was already removed", type_name());
  remove_parameter("weight");
  weight_ = Tensor();
}

Tensor WeightLayer::quantize_input(const Tensor& x) { return input_quantizer_ ? (*input_quantizer_)(x) : x; }

Tensor WeightLayer::effective_weight() {
  if (parametrization_) {
    Tensor w = parametrization_->effective_weight(weight_);
    SL_CHECK(w.defined(), "{}: the weight parametrization {} returned no weight", type_name(),
             parametrization_->type_name());
    return w;
  }
  SL_CHECK(weight_.defined(), "{}: the weight was removed and no weight parametrization provides one", type_name());
  return weight_;
}

Tensor WeightLayer::effective_bias() { return parametrization_ ? parametrization_->effective_bias(bias_) : bias_; }

void WeightLayer::reset_macs() {
  recorded_macs_ = 0;
  last_input_.clear();
  last_output_.clear();
}

void WeightLayer::record_forward(const Shape& input, const Shape& output) {
  last_input_ = input;
  last_output_ = output;
  recorded_macs_ += macs(input, output);
}

}  // namespace sl
