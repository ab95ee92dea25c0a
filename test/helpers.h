// Shared test helpers.
#pragma once
#include <catch2/catch.hpp>

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
