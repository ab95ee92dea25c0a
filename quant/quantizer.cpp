#include "quant/quantizer.h"

#include "engine/factory.h"

#include <algorithm>
#include <cmath>

namespace sl {

Tensor ExportedCodes::values() const {
  std::vector<int8_t> s = sign.to_vector<int8_t>();
  std::vector<int32_t> idx = index.to_vector<int32_t>();
  std::vector<float> out(s.size());
  for (size_t i = 0; i < s.size(); ++i)
    out[i] = static_cast<float>(s[i] * magnitudes[static_cast<size_t>(idx[i])] * scale);
  return from_vector(out, sign.shape());
}

std::vector<double> WeightQuantizer::levels() const {
  std::vector<double> out;
  for (double m : magnitudes()) {
    out.push_back(m);
    if (m != 0) out.push_back(-m);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

ExportedCodes WeightQuantizer::export_codes(const Tensor& weight) {
  Tensor w;
  {
    NoGradGuard no_grad;
    // A forward may clamp its latents in place, as the originals do (DeepShift-Q's weight, -PS's
    // shift): the quantizer reads a copy of the weight and gets its own latents back, so an export
    // leaves the model as it was.
    std::vector<std::pair<Tensor, Tensor>> latents;
    for (auto& [name, p] : named_parameters()) latents.emplace_back(p, p.detach().clone());
    w = effective_weight(weight.defined() ? weight.detach().clone() : weight).detach().to(Device::cpu).to(DType::f64);
    for (auto& [p, saved] : latents) copy_data(p, saved);
  }
  ExportedCodes codes;
  codes.magnitudes = magnitudes();
  codes.scale = scale();
  std::vector<double> v = w.to_vector<double>();
  std::vector<int8_t> sign(v.size());
  std::vector<int32_t> index(v.size());
  const std::vector<double>& mags = codes.magnitudes;
  SL_CHECK(!mags.empty(), "{}: the {}-bit level set is empty", method(), bits());
  SL_CHECK(std::isfinite(codes.scale) && codes.scale > 0, "{}: the level scale {} is not a positive finite number",
           method(), codes.scale);
  for (size_t i = 0; i < v.size(); ++i) {
    SL_CHECK(std::isfinite(v[i]), "{}: weight element {} = {} is not finite", method(), i, v[i]);
    if (v[i] == 0 && mags.front() != 0) {  // a family without a zero level: sign 0 marks the exact zero
      sign[i] = 0;
      index[i] = 0;
      continue;
    }
    double m = std::abs(v[i]) / codes.scale;
    auto it = std::lower_bound(mags.begin(), mags.end(), m);
    // The closest magnitude, which must match to float32 precision.
    size_t k = static_cast<size_t>(it - mags.begin());
    if (k == mags.size() || (k > 0 && m - mags[k - 1] < mags[k] - m)) --k;
    SL_CHECK(std::abs(mags[k] - m) <= 1e-6 * std::max(1.0, mags[k]),
             "{}: weight element {} = {} is not on the {}-bit level set (nearest {})", method(), i, v[i], bits(),
             mags[k] * codes.scale);
    sign[i] = static_cast<int8_t>((v[i] > 0) - (v[i] < 0));
    index[i] = static_cast<int32_t>(k);
  }
  codes.sign = from_vector(sign, w.shape());
  codes.index = from_vector(index, w.shape());
  return codes;
}

}  // namespace sl
