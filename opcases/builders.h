// Shorthands for writing the table's entries (opcases/cases_*.cpp), and the pieces it is built from.
#pragma once
#include <utility>
#include <vector>

#include "autograd/ops.h"
#include "opcases/op_case.h"

namespace sl::opcases {

// A differentiable input with values uniform in [lo, hi).
inline Input in(Shape shape, double lo = -1, double hi = 1) { return Input{std::move(shape), lo, hi}; }
// A differentiable input at least 0.2 away from zero.
inline Input away(Shape shape) { return Input{std::move(shape), -1, 1, Values::away_from_zero}; }
// An input the op does not differentiate (running statistics, for example).
inline Input fixed(Shape shape, double lo = -1, double hi = 1) {
  return Input{std::move(shape), lo, hi, Values::uniform, false};
}
inline Input labels(Shape shape, int64_t classes) {
  return Input{std::move(shape), 0, 1, Values::labels, false, classes};
}

// An OpFn of a function of the inputs alone (no module-held leaves).
template <class F>
OpFn plain(F f) {
  return [f](const TensorList& t, TensorList&) { return f(t); };
}

inline OpCase op_case(std::string op, std::string name, std::vector<Input> inputs, OpFn fn) {
  OpCase c;
  c.op = std::move(op);
  c.name = std::move(name);
  c.inputs = std::move(inputs);
  c.fn = std::move(fn);
  return c;
}

// For ops that only move values (shapes, shifts, max pooling): every device must give the same bits.
inline OpCase moves_values(OpCase c) {
  c.parity_tol = 0;
  return c;
}

void add_elementwise_cases(std::vector<OpCase>& out);  // binary, unary, reductions, shapes, dropout
void add_matmul_conv_cases(std::vector<OpCase>& out);  // matmul, linear, conv2d, shift2d, shift_conv2d
void add_nn_cases(std::vector<OpCase>& out);           // pooling, batch norm, softmax, cross-entropy
void add_quant_cases(std::vector<OpCase>& out);        // the quantizers' weight and activation ops

}  // namespace sl::opcases
