#include "quant/denseshift.h"

#include <cmath>

#include "autograd/function.h"
#include "engine/factory.h"

namespace sl {

DenseShiftWeight::DenseShiftWeight(const Tensor& weight, int bits, Generator& gen, double init_std, double output_scale)
    : bits_(bits), output_scale_(output_scale) {
  SL_CHECK(bits >= 2 && bits <= 4, "denseshift: weight bits must be in [2, 4], got {}", bits);
  SL_CHECK(weight.defined(), "denseshift: needs the layer's weight");
  auto draw = [&] { return randn(weight.shape(), weight.dtype(), weight.device(), 0, init_std, &gen); };
  NoGradGuard no_grad;
  copy_data(weight, draw());
  int gates = (1 << (bits - 1)) - 1;
  for (int i = 0; i < gates; ++i) gates_.push_back(register_parameter("gate" + std::to_string(i + 1), draw()));
}

std::vector<double> DenseShiftWeight::magnitudes() const {
  std::vector<double> m;
  for (int p = 0; p <= (1 << (bits_ - 1)) - 1; ++p) m.push_back(std::ldexp(1.0, p));
  return m;
}

Tensor DenseShiftWeight::effective_weight(const Tensor& weight) {
  SL_CHECK(weight.defined(), "denseshift needs the layer's weight (its sign latent)");
  const size_t K = gates_.size();
  Tensor s, r;
  std::vector<Tensor> b(K), p_before(K);  // p_before[j] = p_{j-1} (0 for the first gate)
  {
    NoGradGuard no_grad;
    Tensor ge0 = ge(weight, scalar_like(0.0, weight));
    s = sub(mul(ge0, scalar_like(2.0, weight)), scalar_like(1.0, weight));
    Tensor p = zeros_like(weight);
    for (size_t j = 0; j < K; ++j) {
      b[j] = gt(gates_[j], scalar_like(0.0, weight));
      p_before[j] = p;
      p = mul(add(p, scalar_like(1.0, weight)), b[j]);
    }
    r = sqrt(add(p, scalar_like(1.0, weight)));
    p_before.push_back(p);  // p itself, last
  }
  Tensor w = mul(s, exp2(p_before.back()));
  TensorList inputs{weight};
  inputs.insert(inputs.end(), gates_.begin(), gates_.end());
  // Surrogate: dW/dsign = r, dW/dp = s / (2r); dp/dgate_j = (p_{j-1} + 1) * b_{j+1} * ... * b_K.
  Tensor unit = record("denseshift_weight", w, inputs, [s, r, b, p_before](const Tensor& g, const std::vector<bool>& needs) {
    TensorList grads(needs.size());
    if (needs[0]) grads[0] = mul(g, r);
    Tensor gp = div(mul(g, s), mul(r, scalar_like(2.0, r)));
    Tensor suffix = ones_like(g);  // product of the gates after j
    for (size_t j = b.size(); j-- > 0;) {
      if (needs[j + 1]) grads[j + 1] = mul(mul(gp, suffix), add(p_before[j], scalar_like(1.0, g)));
      suffix = mul(suffix, b[j]);
    }
    return grads;
  });
  return output_scale_ == 1 ? unit : mul(unit, scalar_like(output_scale_, unit));
}

}  // namespace sl
