// Flatten (torch.nn.Flatten): merges dimensions start_dim..end_dim (default: all but the batch).
#pragma once
#include "layers/module.h"

namespace sl {

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}
  std::string type_name() const override { return "Flatten"; }
  Tensor forward(const Tensor& x) override { return flatten(x, start_dim_, end_dim_); }

 private:
  int64_t start_dim_, end_dim_;
};

}  // namespace sl
