#include "quant/s3.h"

#include <cmath>

#include "autograd/function.h"
#include "engine/factory.h"

namespace sl {

namespace {
constexpr double kLn2 = 0.6931471805599453;

Tensor positive(const Tensor& t) { return gt(t, scalar_like(0.0, t)); }  // [t > 0]
Tensor sign_ge0(const Tensor& t) {                                      // +1 for t >= 0, else -1
  Tensor ge0 = ge(t, scalar_like(0.0, t));
  return sub(mul(ge0, scalar_like(2.0, t)), scalar_like(1.0, t));
}
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
  const size_t K = shifts_.size();
  Tensor s, z, p;
  std::vector<Tensor> b(K), suffix(K);  // suffix[j] = 1 + b[j+1] * (1 + ...), so k = b0 * suffix[0]
  {
    NoGradGuard no_grad;
    s = sign_ge0(weight);
    z = positive(sparse_);
    for (size_t j = 0; j < K; ++j) b[j] = positive(shifts_[j]);
    Tensor k = zeros_like(weight);
    for (size_t j = K; j-- > 0;) {
      suffix[j] = add(scalar_like(1.0, weight), k);  // 1 + (the nested term after j)
      k = mul(b[j], suffix[j]);
    }
    p = exp2(k);
  }
  Tensor w = mul(mul(s, z), p);
  TensorList inputs{weight, sparse_};
  inputs.insert(inputs.end(), shifts_.begin(), shifts_.end());
  // dW/dsign = z*P, dW/dsparse = s*P, dW/dshift_j = s*z*P*ln2 * dk/db_j with
  // dk/db_j = (b_0 * ... * b_{j-1}) * suffix_j (thresholds are identity STEs).
  Tensor unit = record("s3_weight", w, inputs, [s, z, p, b, suffix](const Tensor& g, const std::vector<bool>& needs) {
    TensorList grads(needs.size());
    Tensor gp = mul(g, p);
    if (needs[0]) grads[0] = mul(gp, z);
    if (needs[1]) grads[1] = mul(gp, s);
    Tensor base = mul(mul(mul(gp, s), z), scalar_like(kLn2, g));
    Tensor prefix = ones_like(g);
    for (size_t j = 0; j < b.size(); ++j) {
      if (needs[j + 2]) grads[j + 2] = mul(base, mul(prefix, suffix[j]));
      prefix = mul(prefix, b[j]);
    }
    return grads;
  });
  return output_scale_ == 1 ? unit : mul(unit, scalar_like(output_scale_, unit));
}

Tensor S3Weight::regularization() { return sum(maximum(neg(sparse_), zeros_like(sparse_))); }

}  // namespace sl
