// Element-wise unary ops. One kernel computes every derivative (backends' unary_backward):
//   neg: -g          abs: g*sign(x)      exp: g*y          log: g/x        log2: g/(x ln2)
//   exp2: g*y*ln2    sqrt: g/(2y)        relu: g*[x>0]     relu6: g*[0<x<6]
//   sigmoid: g*y*(1-y)   tanh: g*(1-y^2)   reciprocal: -g*y^2   square: 2xg
//   sign, round, floor, ceil: 0 (use straight_through for a straight-through estimator)
//   clamp(lo, hi): g*[lo<=x<=hi]
#include "autograd/ops/internal.h"

namespace sl {

namespace {

// Ops whose derivative needs the input; the others are computed from the output alone, so only
// the output is kept alive (relu and relu6 test y in place of x: same sign and range).
bool derivative_needs_input(UnaryOp op) {
  return op == UnaryOp::abs || op == UnaryOp::log || op == UnaryOp::log2 || op == UnaryOp::square;
}

bool zero_derivative(UnaryOp op) {
  return op == UnaryOp::sign || op == UnaryOp::round || op == UnaryOp::floor || op == UnaryOp::ceil;
}

Tensor unary_op(UnaryOp op, const Tensor& x) {
  const char* name = unary_op_name(op);
  check_floating(name, x);
  Tensor y = empty_like(x);
  if (x.numel() > 0) detail::backend_of(x).unary(op, x.dtype(), x.raw_data(), y.raw_data(), x.numel());
  if (zero_derivative(op)) {
    return record(name, y, {x}, [](const Tensor&, const std::vector<bool>&) { return TensorList{Tensor()}; });
  }
  // The kernel reads x or y as its rule needs; the one not kept is never read.
  Tensor saved = derivative_needs_input(op) ? x.detach() : y.detach();
  return record(name, y, {x}, [op, saved](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = empty_like(g);
    if (g.numel() > 0)
      detail::backend_of(g).unary_backward(op, g.dtype(), saved.raw_data(), saved.raw_data(), g.raw_data(),
                                           gx.raw_data(), g.numel());
    return TensorList{gx};
  });
}

}  // namespace

Tensor neg(const Tensor& x) { return unary_op(UnaryOp::neg, x); }
Tensor abs(const Tensor& x) { return unary_op(UnaryOp::abs, x); }
Tensor sign(const Tensor& x) { return unary_op(UnaryOp::sign, x); }
Tensor exp(const Tensor& x) { return unary_op(UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary_op(UnaryOp::log, x); }
Tensor log2(const Tensor& x) { return unary_op(UnaryOp::log2, x); }
Tensor exp2(const Tensor& x) { return unary_op(UnaryOp::exp2, x); }
Tensor sqrt(const Tensor& x) { return unary_op(UnaryOp::sqrt, x); }
Tensor round(const Tensor& x) { return unary_op(UnaryOp::round, x); }
Tensor floor(const Tensor& x) { return unary_op(UnaryOp::floor, x); }
Tensor ceil(const Tensor& x) { return unary_op(UnaryOp::ceil, x); }
Tensor relu(const Tensor& x) { return unary_op(UnaryOp::relu, x); }
Tensor relu6(const Tensor& x) { return unary_op(UnaryOp::relu6, x); }
Tensor sigmoid(const Tensor& x) { return unary_op(UnaryOp::sigmoid, x); }
Tensor tanh(const Tensor& x) { return unary_op(UnaryOp::tanh, x); }
Tensor reciprocal(const Tensor& x) { return unary_op(UnaryOp::reciprocal, x); }
Tensor square(const Tensor& x) { return unary_op(UnaryOp::square, x); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  check_floating("clamp", x);
  SL_CHECK(!(lo > hi), "clamp: lower bound {} is above upper bound {}", lo, hi);
  Tensor y = empty_like(x);
  if (x.numel() > 0) detail::backend_of(x).clamp(x.dtype(), x.raw_data(), y.raw_data(), x.numel(), lo, hi);
  Tensor xd = x.detach();
  return record("clamp", y, {x}, [xd, lo, hi](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = empty_like(g);
    if (g.numel() > 0)
      detail::backend_of(g).clamp_backward(g.dtype(), xd.raw_data(), g.raw_data(), gx.raw_data(), g.numel(), lo, hi);
    return TensorList{gx};
  });
}

}  // namespace sl
