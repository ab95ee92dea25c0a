#include "quant/s3.h"

#include <cmath>

#include "autograd/function.h"
#include "backends/backend.h"
#include "engine/factory.h"

namespace sl {

namespace {
}  // namespace

S3Init s3_init_from_name(const std::string& name) {
  if (name == "dense") return S3Init::dense;
  if (name == "he") return S3Init::he;
  fail("unknown S3 initialisation '{}' (expected dense or he)", name);
}

S3Weight::S3Weight(const Tensor& weight, int bits, S3Init init, Generator& gen, double output_scale)
    : bits_(bits), output_scale_(output_scale) {
  SL_CHECK(bits >= 2 && bits <= 4, "s3: weight bits must be in [2, 4], got {}", bits);
  SL_CHECK(weight.defined() && weight.dim() >= 2, "s3: needs the layer's weight");
  int64_t fan_out = weight.size(0);
  for (int64_t d = 2; d < weight.dim(); ++d) fan_out *= weight.size(d);  // kh * kw * cout, as upstream
  double stddev = std::sqrt(2.0 / static_cast<double>(fan_out));
  auto draw = [&] { return randn(weight.shape(), weight.dtype(), weight.device(), 0, stddev, &gen); };
  NoGradGuard no_grad;
  copy_data(weight, draw());
  int shifts = (1 << (bits - 1)) - 2;
  Tensor sp = draw();
  if (init == S3Init::dense) sp = abs(sp);  // all gates open: no zero weight at the start
  sparse_ = register_parameter("sparse", sp);
  for (int i = 0; i < shifts; ++i) {
    Tensor s = draw();
    if (init == S3Init::dense) s = neg(abs(s));  // k = 0: every weight starts at +-1
    shifts_.push_back(register_parameter("shift" + std::to_string(i + 1), s));
  }
}

std::vector<double> S3Weight::magnitudes() const {
  std::vector<double> m{0.0};
  for (int k = 0; k <= (1 << (bits_ - 1)) - 2; ++k) m.push_back(std::ldexp(1.0, k));
  return m;
}

Tensor S3Weight::effective_weight(const Tensor& weight) {
  SL_CHECK(weight.defined(), "s3 needs the layer's weight (its sign latent)");
  const int k = static_cast<int>(shifts_.size());
  std::vector<const void*> shifts;
  for (const Tensor& t : shifts_) shifts.push_back(t.raw_data());
  // W = (sign * [sparse > 0]) * 2^k * scale, k = b0 * (1 + b1 * (1 + ...)), in one pass each way
  // (backends: s3_forward / s3_backward). dW/dsign = z*P, dW/dsparse = s*P, dW/dshift_j =
  // s*z*P*ln2 * dk/db_j with dk/db_j = (b_0 * ... * b_{j-1}) * (1 + the nested term after j): the
  // thresholds are identity STEs.
  Tensor w = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
  if (w.numel() > 0)
    backend(weight.device()).s3_forward(w.dtype(), w.numel(), k, weight.raw_data(), sparse_.raw_data(), shifts.data(),
                                        output_scale_, w.raw_data());
  TensorList inputs{weight, sparse_};
  inputs.insert(inputs.end(), shifts_.begin(), shifts_.end());
  TensorList latents;  // detached handles: the backward recomputes the gates from them
  for (const Tensor& t : inputs) latents.push_back(t.detach());
  const double scale = output_scale_;
  return record("s3_weight", w, inputs, [latents, k, scale](const Tensor& g, const std::vector<bool>& needs) {
    TensorList grads(needs.size());
    std::vector<const void*> shift_data;
    std::vector<void*> gshifts;
    for (size_t i = 0; i < needs.size(); ++i) {
      if (needs[i]) grads[i] = Tensor::empty(g.shape(), g.dtype(), g.device());
      if (i >= 2) {
        shift_data.push_back(latents[i].raw_data());
        gshifts.push_back(needs[i] ? grads[i].raw_data() : nullptr);
      }
    }
    if (g.numel() > 0)
      backend(g.device()).s3_backward(g.dtype(), g.numel(), k, latents[0].raw_data(), latents[1].raw_data(),
                                      shift_data.data(), scale, g.raw_data(), needs[0] ? grads[0].raw_data() : nullptr,
                                      needs[1] ? grads[1].raw_data() : nullptr, gshifts.data());
    return grads;
  });
}

Tensor S3Weight::regularization() { return sum(maximum(neg(sparse_), zeros_like(sparse_))); }

}  // namespace sl
