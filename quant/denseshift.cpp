#include "quant/denseshift.h"

#include <cmath>

#include "autograd/function.h"
#include "backends/backend.h"
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
  const int k = static_cast<int>(gates_.size());
  std::vector<const void*> gates;
  for (const Tensor& t : gates_) gates.push_back(t.raw_data());
  // W = s * 2^p * scale with p built from the gates, in one pass each way (backends:
  // denseshift_forward / backward). Surrogate: dW/dsign = r, dW/dp = s / (2r) with r = sqrt(p + 1);
  // dp/dgate_j = (p_{j-1} + 1) * b_{j+1} * ... * b_K.
  Tensor w = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
  if (w.numel() > 0)
    backend(weight.device()).denseshift_forward(w.dtype(), w.numel(), k, weight.raw_data(), gates.data(), output_scale_,
                                                w.raw_data());
  TensorList inputs{weight};
  inputs.insert(inputs.end(), gates_.begin(), gates_.end());
  TensorList latents;  // detached handles: the backward recomputes the gates from them
  for (const Tensor& t : inputs) latents.push_back(t.detach());
  const double scale = output_scale_;
  return record("denseshift_weight", w, inputs, [latents, k, scale](const Tensor& g, const std::vector<bool>& needs) {
    TensorList grads(needs.size());
    std::vector<const void*> gate_data;
    std::vector<void*> ggates;
    for (size_t i = 0; i < needs.size(); ++i) {
      if (needs[i]) grads[i] = Tensor::empty(g.shape(), g.dtype(), g.device());
      if (i >= 1) {
        gate_data.push_back(latents[i].raw_data());
        ggates.push_back(needs[i] ? grads[i].raw_data() : nullptr);
      }
    }
    if (g.numel() > 0)
      backend(g.device()).denseshift_backward(g.dtype(), g.numel(), k, latents[0].raw_data(), gate_data.data(), scale,
                                              g.raw_data(), needs[0] ? grads[0].raw_data() : nullptr, ggates.data());
    return grads;
  });
}

}  // namespace sl
