// WeightLayer: what Linear and Conv2d share. It owns the `weight` and optional `bias` parameters and
// the two quantizer hooks of layers/parametrization.h, and records what a FLOP counter needs
// (the last input/output shapes and the multiply-accumulates since the last reset).
//
// Forward of a subclass: x' = input_quantizer ? (*iq)(x) : x; w = effective_weight(); b =
// effective_bias(); y = product(x', w, b). Hooks are registered as inline children (empty name), so
// their latent parameters appear under the layer's own prefix (`conv1.shift`, `conv1.act_alpha`).
#pragma once
#include <memory>
#include <string>

#include "layers/parametrization.h"

namespace sl {

class WeightLayer : public Module {
 public:
  // The FP32 parameters; weight() is undefined after remove_weight(), bias() when the layer has none.
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  bool has_bias() const { return bias_.defined(); }

  // Installs (or, with nullptr, removes) the weight parametrization / input quantizer. A replaced
  // hook is unregistered first. Throws when the hook's parameter or buffer names collide with the
  // layer's (the names share one prefix).
  void set_weight_parametrization(std::shared_ptr<WeightParametrization> p);
  void set_input_quantizer(std::shared_ptr<InputQuantizer> q);
  const std::shared_ptr<WeightParametrization>& weight_parametrization() const { return parametrization_; }
  const std::shared_ptr<InputQuantizer>& input_quantizer() const { return input_quantizer_; }

  // Drops the FP32 `weight` parameter (DeepShift-PS keeps `shift` and `sign` instead); afterwards
  // forward needs a parametrization whose effective_weight accepts an undefined weight.
  void remove_weight();

  // The tensors the product uses: the hooks applied to the input / weight / bias.
  Tensor quantize_input(const Tensor& x);
  Tensor effective_weight();
  Tensor effective_bias();

  // ---- FLOP accounting (layers/flops.h) ----
  // Shapes of the last forward's input and output (empty before the first forward).
  const Shape& last_input_shape() const { return last_input_; }
  const Shape& last_output_shape() const { return last_output_; }
  // Multiply-accumulates of every forward since reset_macs() (a layer called twice counts twice).
  int64_t recorded_macs() const { return recorded_macs_; }
  void reset_macs();
  // Multiply-accumulates of one forward with these input/output shapes.
  virtual int64_t macs(const Shape& input, const Shape& output) const = 0;

 protected:
  // Subclasses register their parameters through these so the handles stay in sync.
  void init_weight(Tensor w);
  void init_bias(Tensor b);
  // Records shapes and MACs of a completed forward.
  void record_forward(const Shape& input, const Shape& output);

 private:
  void check_hook_names(const Module& hook, const char* what) const;

  Tensor weight_, bias_;
  std::shared_ptr<WeightParametrization> parametrization_;
  std::shared_ptr<InputQuantizer> input_quantizer_;
  Shape last_input_, last_output_;
  int64_t recorded_macs_ = 0;
};

}  // namespace sl
