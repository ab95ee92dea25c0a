// Dropout (torch.nn.Dropout): inverted dropout in training, identity in evaluation. Masks come from
// the module's generator, or default_generator() when none is set.
#pragma once
#include "layers/module.h"

namespace sl {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  std::string type_name() const override { return "Dropout"; }
  Tensor forward(const Tensor& x) override;
  double p() const { return p_; }
  void set_generator(Generator* gen) { gen_ = gen; }

 private:
  double p_;
  Generator* gen_;
};

}  // namespace sl
