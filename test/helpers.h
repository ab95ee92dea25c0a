// Shared test helpers.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "engine/factory.h"

namespace sl::test {

// A reproducible f64 tensor with requires_grad set, values in [lo, hi).
inline Tensor param64(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Generator g(seed);
  Tensor t = rand(shape, DType::f64, Device::cpu, lo, hi, &g);
  t.requires_grad_();
  return t;
}

inline Tensor data64(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Generator g(seed);
  return rand(shape, DType::f64, Device::cpu, lo, hi, &g);
}

inline Tensor randf(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Generator g(seed);
  return rand(shape, DType::f32, Device::cpu, lo, hi, &g);
}

// Fails the current test with gradcheck's message (input, element, analytic vs numeric).
inline void check_grad(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs) {
  GradcheckResult r = gradcheck(fn, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

// The message of the sl::Error thrown by f ("" when nothing is thrown).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace sl::test

namespace sl::test {

inline std::string golden_path(const std::string& name) { return std::string(SHIFTLAB_TEST_DATA) + "/golden/" + name; }

// Element-wise |got - want| <= tol * max(1, |want|); NaN must match NaN, infinities must match.
// Elements where `skip` (same size, optional) is nonzero are not compared.
inline void check_values(const Tensor& got, const Tensor& want, double tol = 0,
                         const std::vector<uint8_t>& skip = {}) {
  REQUIRE(got.numel() == want.numel());
  std::vector<double> a = got.to_vector<double>(), b = want.to_vector<double>();
  int64_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!skip.empty() && skip[i]) continue;
    bool ok;
    if (std::isnan(b[i])) ok = std::isnan(a[i]);
    else if (std::isinf(b[i])) ok = a[i] == b[i];
    else ok = std::abs(a[i] - b[i]) <= tol * std::max(1.0, std::abs(b[i]));
    if (!ok && bad++ < 5) {
      UNSCOPED_INFO("element " << i << ": got " << a[i] << ", want " << b[i]);
    }
  }
  CHECK(bad == 0);
}

}  // namespace sl::test
