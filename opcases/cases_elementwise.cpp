// Element-wise binary and unary ops, reductions, shape ops and dropout. Shapes: broadcasting in
// every direction, a 0-d scalar, and one tensor past the CPU's parallel grain (32 Ki elements) so
// the thread-count check splits the work.
#include "engine/rng.h"
#include "opcases/builders.h"

namespace sl::opcases {

namespace {

using Binary = Tensor (*)(const Tensor&, const Tensor&);
using Unary = Tensor (*)(const Tensor&);

OpFn binary(Binary f) {
  return plain([f](const TensorList& t) { return f(t[0], t[1]); });
}
OpFn unary(Unary f) {
  return plain([f](const TensorList& t) { return f(t[0]); });
}

void add_binary(std::vector<OpCase>& out) {
  const Shape a{3, 1, 4}, b{2, 4};
  for (auto [name, f] : std::vector<std::pair<const char*, Binary>>{
           {"add", add}, {"sub", sub}, {"mul", mul}, {"maximum", maximum}, {"minimum", minimum}}) {
    out.push_back(op_case(name, std::string(name) + " broadcast", {in(a), in(b)}, binary(f)));
  }
  out.push_back(op_case("div", "div broadcast", {in(a), in(b, 0.5, 2)}, binary(div)));
  out.push_back(op_case("pow", "pow tensor exponent", {in(a, 0.5, 2), in(b)}, binary(pow)));
  out.push_back(op_case("pow", "pow scalar exponent", {in(a)}, plain([](const TensorList& t) { return pow(t[0], 3.0); })));
  out.push_back(op_case("mul", "mul 0-d scalar", {in({}), in(b)}, binary(mul)));
  out.push_back(op_case("add", "add large rows", {in({300, 257}), in({257})}, binary(add)));
  out.push_back(op_case("mul", "mul 6-d broadcast", {in({2, 3, 1, 5, 1, 7}), in({3, 4, 5, 1, 7})}, binary(mul)));
  out.push_back(op_case("arith", "scalar operators", {in(a), in(a, 0.5, 2)},
                        plain([](const TensorList& t) { return t[0] * 2.0 - 1.0 / t[1] + 3.0; })));
}

void add_unary(std::vector<OpCase>& out) {
  const Shape s{3, 5};
  for (auto [name, f] : std::vector<std::pair<const char*, Unary>>{
           {"neg", neg}, {"abs", abs}, {"exp", exp}, {"exp2", exp2}, {"relu", relu}, {"sigmoid", sigmoid},
           {"tanh", tanh}, {"square", square}}) {
    out.push_back(op_case(name, name, {away(s)}, unary(f)));
  }
  for (auto [name, f] : std::vector<std::pair<const char*, Unary>>{
           {"log", log}, {"log2", log2}, {"sqrt", sqrt}, {"reciprocal", reciprocal}}) {
    out.push_back(op_case(name, name, {in(s, 0.3, 2)}, unary(f)));
  }
  out.push_back(op_case("relu6", "relu6", {in({4, 6}, -2, 8)}, unary(relu6)));
  out.push_back(op_case("exp", "exp large", {in({40000}, -3, 3)}, unary(exp)));
  out.push_back(op_case("clamp", "clamp", {away(s)}, plain([](const TensorList& t) { return clamp(t[0], -0.5, 0.7); })));
  // Piecewise-constant ops have a zero gradient away from their steps; multiplied by x, the product's
  // gradient shows whether they pass any.
  out.push_back(op_case("round", "sign and round", {away(s)}, plain([](const TensorList& t) {
                          return mul(add(sign(t[0]), round(t[0] * 3.0)), t[0]);
                        })));
  out.push_back(op_case("floor", "floor and ceil", {away(s)}, plain([](const TensorList& t) {
                          return mul(add(floor(t[0] * 3.0), ceil(t[0] * 3.0)), t[0]);
                        })));
}

void add_reductions(std::vector<OpCase>& out) {
  const Shape s{2, 3, 4};
  auto reduce = [&](const char* op, const char* name, std::function<Tensor(const Tensor&)> f, Shape shape) {
    out.push_back(op_case(op, name, {in(std::move(shape))}, plain([f](const TensorList& t) { return f(t[0]); })));
  };
  reduce("sum", "sum all", [](const Tensor& x) { return sum(x); }, s);
  reduce("sum", "sum dims 0 2", [](const Tensor& x) { return sum(x, {0, 2}); }, s);
  reduce("sum", "sum keepdim", [](const Tensor& x) { return sum(x, {1}, true); }, s);
  reduce("sum", "sum long rows", [](const Tensor& x) { return sum(x, {1}); }, {3, 20000});
  reduce("sum", "sum strided rows", [](const Tensor& x) { return sum(x, {1}); }, {7, 300, 3});
  reduce("mean", "mean last dim", [](const Tensor& x) { return mean(x, {-1}); }, s);
  reduce("var", "var unbiased", [](const Tensor& x) { return var(x, {0, 1}); }, s);
  reduce("var", "var biased keepdim", [](const Tensor& x) { return var(x, {}, false, true); }, s);
  reduce("max", "max dim 1", [](const Tensor& x) { return max(x, 1); }, s);
  reduce("max", "max last dim keepdim", [](const Tensor& x) { return max(x, -1, true); }, s);
  reduce("sum_to_shape", "sum_to_shape", [](const Tensor& x) { return sum_to_shape(x, {3, 1}); }, s);
}

void add_shape_ops(std::vector<OpCase>& out) {
  const Shape s{2, 3, 4};
  auto shape_op = [&](const char* op, const char* name, std::function<Tensor(const Tensor&)> f) {
    out.push_back(moves_values(op_case(op, name, {in(s)}, plain([f](const TensorList& t) { return f(t[0]); }))));
  };
  shape_op("reshape", "reshape", [](const Tensor& x) { return reshape(x, {4, -1}); });
  shape_op("reshape", "flatten", [](const Tensor& x) { return flatten(x, 1); });
  shape_op("reshape", "squeeze unsqueeze", [](const Tensor& x) { return squeeze(unsqueeze(x, 1), 1); });
  shape_op("slice", "slice dim 0", [](const Tensor& x) { return slice(x, 0, 1, 2); });
  shape_op("slice", "slice inner dim", [](const Tensor& x) { return slice(x, 2, 1, 3); });
  shape_op("permute", "permute", [](const Tensor& x) { return permute(x, {2, 0, 1}); });
  shape_op("permute", "transpose", [](const Tensor& x) { return transpose(x, 0, 2); });
  shape_op("clone", "clone", [](const Tensor& x) { return clone(x); });
  out.push_back(moves_values(op_case("cat", "cat", {in(s), in({2, 2, 4})},
                                     plain([](const TensorList& t) { return cat({t[0], t[1]}, 1); }))));
}

}  // namespace

void add_elementwise_cases(std::vector<OpCase>& out) {
  add_binary(out);
  add_unary(out);
  add_reductions(out);
  add_shape_ops(out);
  // The mask comes from a generator of its own, so every evaluation (and device) drops the same elements.
  out.push_back(op_case("dropout", "dropout fixed mask", {in({4, 5})}, plain([](const TensorList& t) {
                          Generator g(5);
                          return dropout(t[0], 0.3, true, &g);
                        })));
}

}  // namespace sl::opcases
