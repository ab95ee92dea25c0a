// Helpers of the CPU/CUDA parity tests: the device under test, tolerance checks that report the
// worst element, and reproducible inputs.
#pragma once
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "backends/backend.h"
#include "engine/factory.h"
#include "opcases/op_case.h"

namespace sl::parity {

// The device the CPU results are compared against: cuda, or cpu when the suite runs in self-test
// mode (SHIFTLAB_PARITY_SELF_TEST=1, see test/cuda/main.cpp), which only checks the tests themselves.
Device device();

// Relative tolerance of f32 results, and the (tighter) one for f64.
constexpr double kTolF32 = 1e-4;
constexpr double kTolF64 = 1e-10;
inline double tol_for(DType dt) { return dt == DType::f64 ? kTolF64 : kTolF32; }

inline Tensor dev(const Tensor& t) { return t.to(device()); }

// A leaf on the device under test with the values of `cpu` (a leaf too, when cpu requires grad).
inline Tensor dev_leaf(const Tensor& cpu) {
  Tensor t = cpu.detach().to(device());
  if (cpu.requires_grad()) t.requires_grad_();
  return t;
}

// The op-case table's comparison rule (opcases::compare): |cpu - got| <= tol * (|cpu| + mean|cpu|)
// element by element, relative error for typical elements without demanding it of elements that are
// tiny because of cancellation; NaN must match NaN, infinities exactly; tol 0 means the same bits.
inline void check_close(const Tensor& cpu, const Tensor& got, double tol, const std::string& what = "") {
  INFO(what);
  REQUIRE(cpu.defined());
  REQUIRE(got.defined());
  CHECK(got.device() == device());
  REQUIRE(cpu.shape() == got.shape());
  REQUIRE(cpu.dtype() == got.dtype());
  const std::string diff = opcases::compare(cpu, got, tol);
  if (!diff.empty())
    UNSCOPED_INFO("cpu vs " << device_name(device()) << ", shape " << shape_str(cpu.shape()) << ": " << diff);
  CHECK(diff.empty());
}

inline void check_exact(const Tensor& cpu, const Tensor& got, const std::string& what = "") {
  check_close(cpu, got, 0, what);
}

// Reproducible random tensors (own generator, so tests do not depend on each other's draws).
inline Tensor uniform(const Shape& s, uint64_t seed, double lo = -1, double hi = 1, DType dt = DType::f32) {
  Generator g(seed);
  return rand(s, dt, Device::cpu, lo, hi, &g);
}
inline Tensor normal(const Shape& s, uint64_t seed, DType dt = DType::f32) {
  Generator g(seed);
  return randn(s, dt, Device::cpu, 0, 1, &g);
}
inline Tensor leaf(Tensor t) {
  t.requires_grad_();
  return t;
}

// Runs body(dtype) for f32 and f64.
inline void for_each_dtype(const std::function<void(DType)>& body) {
  for (DType dt : {DType::f32, DType::f64}) {
    INFO("dtype " << dtype_name(dt));
    body(dt);
  }
}

// Forward and backward of f on the CPU (reference = true) and on the device (reference = false):
// the outputs and the gradient of every input (inputs are CPU tensors; they are made leaves here).
// The backward seed is a fixed random tensor of the output's shape, so every output element matters.
using SidedFn = std::function<Tensor(const TensorList& inputs, bool reference)>;
inline void check_op_sided(const SidedFn& f, const TensorList& inputs, double tol, const std::string& what = "",
                           uint64_t seed = 99) {
  TensorList cpu_in, dev_in;
  for (const Tensor& t : inputs) {
    cpu_in.push_back(leaf(t.detach().clone()));
    dev_in.push_back(dev_leaf(cpu_in.back()));
  }
  Tensor yc = f(cpu_in, true), yd = f(dev_in, false);
  check_close(yc, yd, tol, what + " forward");
  Tensor seed_grad = uniform(yc.shape(), seed, -1, 1, yc.dtype());
  yc.backward(seed_grad);
  yd.backward(dev(seed_grad));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!cpu_in[i].grad().defined()) {
      CHECK_FALSE(dev_in[i].grad().defined());
      continue;
    }
    check_close(cpu_in[i].grad(), dev_in[i].grad(), tol, what + " gradient of input " + std::to_string(i));
  }
}

// The same for a function that does not care which side it runs on.
inline void check_op(const std::function<Tensor(const TensorList&)>& f, const TensorList& inputs, double tol,
                     const std::string& what = "", uint64_t seed = 99) {
  check_op_sided([&f](const TensorList& t, bool) { return f(t); }, inputs, tol, what, seed);
}

}  // namespace sl::parity
