#include "opcases/op_case.h"

#include <cmath>
#include <cstring>

#include "autograd/ops.h"
#include "engine/factory.h"
#include "engine/rng.h"

namespace sl::opcases {

namespace {

// The canonical values of input i: drawn in f64 from a generator of its own, rounded to f32.
std::vector<double> input_values(const Input& in, size_t index) {
  Generator gen(1000 + index);
  int64_t n = shape_numel(in.shape);
  std::vector<double> u = rand({n}, DType::f64, Device::cpu, 0, 1, &gen).to_vector<double>();
  std::vector<double> v(u.size());
  for (size_t i = 0; i < u.size(); ++i) {
    double x = in.lo + (in.hi - in.lo) * u[i];
    switch (in.values) {
      case Values::uniform: break;
      case Values::away_from_zero: x += x < 0 ? -0.2 : 0.2; break;
      case Values::shift_friendly: {
        // u's bits give the exponent, the fraction and the sign independently enough for tests.
        double k = -1 - std::floor(u[i] * 6), f = std::fmod(u[i] * 977, 0.8) - 0.4;
        x = (std::fmod(u[i] * 131, 1.0) < 0.5 ? -1 : 1) * std::exp2(k + f);
        break;
      }
      case Values::labels: x = static_cast<double>((static_cast<int64_t>(i) * 7 + 3) % in.classes); break;
    }
    v[i] = static_cast<double>(static_cast<float>(x));
  }
  return v;
}

}  // namespace

std::vector<const OpCase*> select_cases(const std::string& filter) {
  std::vector<const OpCase*> out;
  for (const OpCase& c : op_cases())
    if (filter.empty() || c.op.find(filter) != std::string::npos || c.name.find(filter) != std::string::npos)
      out.push_back(&c);
  return out;
}

TensorList make_inputs(const OpCase& c, DType dtype, Device device) {
  TensorList out;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Input& in = c.inputs[i];
    std::vector<double> v = input_values(in, i);
    if (in.values == Values::labels) {
      out.push_back(from_vector(std::vector<int32_t>(v.begin(), v.end()), in.shape).to(device));
      continue;
    }
    Tensor t = from_vector(v, in.shape).to(dtype).to(device);
    if (in.requires_grad) t.requires_grad_();
    out.push_back(t);
  }
  return out;
}

Tensor backward_seed(const Tensor& out) {
  Generator gen(99);
  return rand(out.shape(), DType::f64, Device::cpu, -1, 1, &gen).to(out.dtype()).to(out.device());
}

OpRun run_case(const OpCase& c, const TensorList& inputs) {
  TensorList leaves;
  Tensor out = c.fn(inputs, leaves);
  OpRun run;
  run.out = out.detach();
  if (!out.requires_grad()) return run;
  out.backward(backward_seed(out));
  auto take = [&](const Tensor& t, const std::string& name) {
    run.grads.push_back(t.grad().defined() ? t.grad().detach() : Tensor());
    run.grad_names.push_back(name);
  };
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) take(inputs[i], "gradient of input " + std::to_string(i));
  for (size_t i = 0; i < leaves.size(); ++i)
    if (leaves[i].requires_grad()) take(leaves[i], "gradient of leaf " + std::to_string(i));
  return run;
}

OpRun run_case(const OpCase& c, DType dtype, Device device) { return run_case(c, make_inputs(c, dtype, device)); }

std::string compare(const Tensor& want, const Tensor& got, double tol) {
  if (want.defined() != got.defined()) return want.defined() ? "missing" : "unexpected";
  if (!want.defined()) return "";
  if (want.shape() != got.shape()) return fmt::format("shape {} vs {}", shape_str(want.shape()), shape_str(got.shape()));
  Tensor a_host = want.to(Device::cpu), b_host = got.to(Device::cpu);
  if (tol == 0 && want.dtype() == got.dtype()) {
    if (std::memcmp(a_host.raw_data(), b_host.raw_data(), a_host.nbytes()) == 0) return "";
  }
  std::vector<double> a = a_host.to_vector<double>(), b = b_host.to_vector<double>();
  double mean_abs = 0;
  int64_t finite = 0;
  for (double v : a)
    if (std::isfinite(v)) {
      mean_abs += std::abs(v);
      ++finite;
    }
  mean_abs = finite ? mean_abs / static_cast<double>(finite) : 0;
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    bool ok;
    if (tol == 0) {
      ok = std::memcmp(&a[i], &b[i], sizeof(double)) == 0 || (std::isnan(a[i]) && std::isnan(b[i]));
    } else if (std::isnan(a[i])) {
      ok = std::isnan(b[i]);
    } else if (std::isinf(a[i])) {
      ok = a[i] == b[i];
    } else {
      double err = std::abs(a[i] - b[i]), bound = tol * (std::abs(a[i]) + mean_abs);
      ok = err <= bound;
      if (bound > 0) worst = std::max(worst, err / bound);
    }
    if (!ok && bad++ == 0) first = static_cast<int64_t>(i);
  }
  if (bad == 0) return "";
  auto f = static_cast<size_t>(first);
  return fmt::format("{} of {} elements differ (tol {}); first at {}: want {:.10g}, got {:.10g}; worst error/bound {:.3g}",
                     bad, a.size(), tol, first, a[f], b[f], worst);
}

std::string compare_runs(const OpRun& want, const OpRun& got, double tol) {
  std::string m = compare(want.out, got.out, tol);
  if (!m.empty()) return "output: " + m;
  if (want.grads.size() != got.grads.size())
    return fmt::format("{} gradients vs {}", want.grads.size(), got.grads.size());
  for (size_t i = 0; i < want.grads.size(); ++i) {
    m = compare(want.grads[i], got.grads[i], tol);
    if (!m.empty()) return want.grad_names[i] + ": " + m;
  }
  return "";
}

}  // namespace sl::opcases
