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
  // Check at most this many elements of each input, evenly spread, the last one included (0: all):
  // a large input costs two evaluations per checked element.
  int64_t max_elements = 0;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // the first mismatch, naming input, element and both values
};

// `fn` builds one output from `inputs`; inputs with requires_grad set are checked, and must be f64
// CPU tensors (they are perturbed in place and restored). Other inputs (labels) may be anything.
GradcheckResult gradcheck(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs,
                          const GradcheckOptions& options = {});

}  // namespace sl
