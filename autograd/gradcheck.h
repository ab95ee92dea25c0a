// Finite-difference gradient check (central differences on f64 CPU tensors; the defaults are
// torch.autograd.gradcheck's). The output is projected on a fixed random tensor r, so one backward
// of L = sum(out * r) is compared with (L(x + eps) - L(x - eps)) / (2 eps) for every input element.
#pragma once
#include <functional>
#include <string>

#include "autograd/node.h"

namespace sl {

struct GradcheckOptions {
  double eps = 1e-6, atol = 1e-5, rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // the first mismatch, naming input, element and both values
};

// `fn` builds one output from `inputs`; inputs with requires_grad set are checked. Inputs must be
// f64 CPU tensors (they are perturbed in place and restored).
GradcheckResult gradcheck(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs,
                          const GradcheckOptions& options = {});

}  // namespace sl
