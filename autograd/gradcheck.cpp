#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "engine/factory.h"

namespace sl {

GradcheckResult gradcheck(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs,
                          const GradcheckOptions& o) {
  for (const Tensor& t : inputs) {
    if (!t.requires_grad()) continue;  // labels, running statistics: passed through untouched
    SL_CHECK(t.dtype() == DType::f64 && t.device() == Device::cpu,
             "gradcheck: inputs to check must be f64 cpu tensors, got {} on {}", t.dtype(), t.device());
    t.set_grad(Tensor());
  }
  Tensor out = fn(inputs);
  Generator gen(12345);
  Tensor r = randn(out.shape(), DType::f64, Device::cpu, 0, 1, &gen);
  auto loss_of = [&](const Tensor& y) { return sum(mul(y, r)); };
  Tensor loss = loss_of(out);
  SL_CHECK(loss.requires_grad(), "gradcheck: the output does not depend on any input with requires_grad");
  loss.backward();

  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor x = inputs[i];
    if (!x.requires_grad()) continue;
    Tensor analytic = x.grad().defined() ? x.grad() : zeros_like(x);
    const double* ga = analytic.data<double>();
    double* xp = x.data<double>();
    int64_t n = x.numel();
    int64_t step = o.max_elements > 0 && n > o.max_elements ? (n + o.max_elements - 1) / o.max_elements : 1;
    auto next = [&](int64_t j) { return j == n - 1 ? n : std::min(j + step, n - 1); };
    for (int64_t j = 0; j < n; j = next(j)) {
      double saved = xp[j];
      double plus, minus;
      {
        NoGradGuard no_grad;
        xp[j] = saved + o.eps;
        plus = loss_of(fn(inputs)).item();
        xp[j] = saved - o.eps;
        minus = loss_of(fn(inputs)).item();
      }
      xp[j] = saved;
      double numeric = (plus - minus) / (2 * o.eps);
      if (!(std::abs(ga[j] - numeric) <= o.atol + o.rtol * std::abs(numeric))) {
        return {false, fmt::format("gradcheck: input {} element {}: analytic gradient {:.10g} vs numeric {:.10g}", i,
                                   j, ga[j], numeric)};
      }
    }
  }
  return {};
}

}  // namespace sl
