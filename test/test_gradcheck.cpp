// Finite-difference gradient checks for every differentiable op (f64, central differences).
#include "helpers.h"

using namespace sl;
using sl::test::data64;
using sl::test::check_grad;
using sl::test::param64;

namespace {
// Values with |x| in [0.2, 1.2): far from the kinks of abs, relu, sign at 0.
Tensor away_from_zero(const Shape& shape, uint64_t seed) {
  Tensor u = data64(shape, seed);
  Tensor x = add(mul(sign(u), scalar_tensor(0.2, DType::f64)), u);
  x.requires_grad_();
  return x;
}
}  // namespace

TEST_CASE("gradcheck: binary ops with broadcasting", "[gradcheck]") {
  Tensor a = param64({3, 1, 4}, 1), b = param64({2, 4}, 2);
  Tensor pos = param64({3, 1, 4}, 3, 0.5, 2), pos2 = param64({2, 4}, 4, 0.5, 2);
  check_grad([](const TensorList& t) { return add(t[0], t[1]); }, {a, b});
  check_grad([](const TensorList& t) { return sub(t[0], t[1]); }, {a, b});
  check_grad([](const TensorList& t) { return mul(t[0], t[1]); }, {a, b});
  check_grad([](const TensorList& t) { return div(t[0], t[1]); }, {a, pos2});
  check_grad([](const TensorList& t) { return maximum(t[0], t[1]); }, {a, b});
  check_grad([](const TensorList& t) { return minimum(t[0], t[1]); }, {a, b});
  check_grad([](const TensorList& t) { return pow(t[0], t[1]); }, {pos, b});
  check_grad([](const TensorList& t) { return pow(t[0], 3.0); }, {a});
  Tensor s = param64({}, 5);  // a 0-d scalar broadcast against a matrix
  check_grad([](const TensorList& t) { return mul(t[0], t[1]); }, {s, b});
  check_grad([](const TensorList& t) { return t[0] * 2.0 - 1.0 / t[1] + 3.0; }, {a, pos});
}

TEST_CASE("gradcheck: unary ops", "[gradcheck]") {
  Tensor x = away_from_zero({3, 5}, 11);
  Tensor pos = param64({3, 5}, 12, 0.3, 2);
  Tensor wide = param64({4, 6}, 13, -2, 8);
  check_grad([](const TensorList& t) { return neg(t[0]); }, {x});
  check_grad([](const TensorList& t) { return abs(t[0]); }, {x});
  check_grad([](const TensorList& t) { return exp(t[0]); }, {x});
  check_grad([](const TensorList& t) { return log(t[0]); }, {pos});
  check_grad([](const TensorList& t) { return log2(t[0]); }, {pos});
  check_grad([](const TensorList& t) { return exp2(t[0]); }, {x});
  check_grad([](const TensorList& t) { return sqrt(t[0]); }, {pos});
  check_grad([](const TensorList& t) { return relu(t[0]); }, {x});
  check_grad([](const TensorList& t) { return relu6(t[0]); }, {wide});
  check_grad([](const TensorList& t) { return sigmoid(t[0]); }, {x});
  check_grad([](const TensorList& t) { return tanh(t[0]); }, {x});
  check_grad([](const TensorList& t) { return reciprocal(t[0]); }, {pos});
  check_grad([](const TensorList& t) { return square(t[0]); }, {x});
  check_grad([](const TensorList& t) { return clamp(t[0], -0.5, 0.7); }, {x});
  // Piecewise-constant ops: zero gradient away from their steps.
  check_grad([](const TensorList& t) { return mul(add(sign(t[0]), round(t[0] * 3.0)), t[0]); }, {x});
  check_grad([](const TensorList& t) { return mul(add(floor(t[0] * 3.0), ceil(t[0] * 3.0)), t[0]); }, {x});
}

TEST_CASE("gradcheck: reductions", "[gradcheck]") {
  Tensor x = param64({2, 3, 4}, 21);
  check_grad([](const TensorList& t) { return sum(t[0]); }, {x});
  check_grad([](const TensorList& t) { return sum(t[0], {0, 2}); }, {x});
  check_grad([](const TensorList& t) { return sum(t[0], {1}, true); }, {x});
  check_grad([](const TensorList& t) { return mean(t[0], {-1}); }, {x});
  check_grad([](const TensorList& t) { return var(t[0], {0, 1}); }, {x});
  check_grad([](const TensorList& t) { return var(t[0], {}, false, true); }, {x});
  check_grad([](const TensorList& t) { return max(t[0], 1); }, {x});
  check_grad([](const TensorList& t) { return max(t[0], -1, true); }, {x});
  check_grad([](const TensorList& t) { return sum_to_shape(t[0], {3, 1}); }, {x});
}

TEST_CASE("gradcheck: shape ops and copies", "[gradcheck]") {
  Tensor x = param64({2, 3, 4}, 31), y = param64({2, 2, 4}, 32);
  check_grad([](const TensorList& t) { return reshape(t[0], {4, -1}); }, {x});
  check_grad([](const TensorList& t) { return flatten(t[0], 1); }, {x});
  check_grad([](const TensorList& t) { return squeeze(unsqueeze(t[0], 1), 1); }, {x});
  check_grad([](const TensorList& t) { return slice(t[0], 0, 1, 2); }, {x});
  check_grad([](const TensorList& t) { return slice(t[0], 2, 1, 3); }, {x});
  check_grad([](const TensorList& t) { return cat({t[0], t[1]}, 1); }, {x, y});
  check_grad([](const TensorList& t) { return permute(t[0], {2, 0, 1}); }, {x});
  check_grad([](const TensorList& t) { return transpose(t[0], 0, 2); }, {x});
  check_grad([](const TensorList& t) { return clone(t[0]); }, {x});
  // A round trip through f32 loses the precision finite differences need: check the rule directly.
  Tensor w = data64({2, 3, 4}, 33);
  x.set_grad(Tensor());
  sum(mul(to_dtype(x, DType::f32), to_dtype(w, DType::f32))).backward();
  std::vector<double> gx = x.grad().to_vector<double>(), wv = w.to_vector<double>();
  for (size_t i = 0; i < gx.size(); ++i) CHECK(gx[i] == Approx(wv[i]).epsilon(1e-6));
  check_grad([](const TensorList& t) { return to_device(t[0], Device::cpu); }, {x});
}

TEST_CASE("gradcheck: matmul and linear", "[gradcheck]") {
  Tensor a = param64({3, 4}, 41), b = param64({4, 5}, 42);
  check_grad([](const TensorList& t) { return matmul(t[0], t[1]); }, {a, b});
  Tensor ba = param64({2, 3, 4}, 43), bb = param64({2, 4, 5}, 44);
  check_grad([](const TensorList& t) { return matmul(t[0], t[1]); }, {ba, bb});
  check_grad([](const TensorList& t) { return matmul(t[0], t[1]); }, {ba, b});  // shared right side
  check_grad([](const TensorList& t) { return matmul(t[0], t[1]); }, {a, bb});  // shared left side
  Tensor x = param64({6, 4}, 45), w = param64({3, 4}, 46), bias = param64({3}, 47);
  check_grad([](const TensorList& t) { return linear(t[0], t[1], t[2]); }, {x, w, bias});
  Tensor x3 = param64({2, 3, 4}, 48);
  check_grad([](const TensorList& t) { return linear(t[0], t[1]); }, {x3, w});
}

TEST_CASE("gradcheck: conv2d with stride, padding, dilation, groups and bias", "[gradcheck]") {
  struct Case {
    int64_t cin, cout, k, stride, pad, dil, groups;
  };
  for (Case c : {Case{2, 3, 3, 1, 1, 1, 1}, Case{2, 4, 3, 2, 1, 1, 1}, Case{3, 2, 2, 1, 0, 2, 1},
                 Case{4, 6, 3, 1, 1, 1, 2}, Case{4, 4, 3, 2, 1, 1, 4}, Case{3, 5, 1, 1, 0, 1, 1},
                 Case{2, 3, 1, 2, 0, 1, 1}}) {
    INFO("cin " << c.cin << " cout " << c.cout << " k " << c.k << " stride " << c.stride << " pad " << c.pad
                << " dilation " << c.dil << " groups " << c.groups);
    Tensor x = param64({2, c.cin, 6, 5}, 51);
    Tensor w = param64({c.cout, c.cin / c.groups, c.k, c.k}, 52);
    Tensor b = param64({c.cout}, 53);
    Conv2dArgs args;
    args.stride = {c.stride, c.stride};
    args.padding = {c.pad, c.pad};
    args.dilation = {c.dil, c.dil};
    args.groups = c.groups;
    check_grad([args](const TensorList& t) { return conv2d(t[0], t[1], t[2], args); }, {x, w, b});
  }
}

TEST_CASE("gradcheck: pooling", "[gradcheck]") {
  Tensor x = param64({2, 3, 6, 7}, 61);
  Pool2dArgs p2;
  check_grad([p2](const TensorList& t) { return max_pool2d(t[0], p2); }, {x});
  Pool2dArgs p3{{3, 3}, {2, 2}, {1, 1}, true};
  check_grad([p3](const TensorList& t) { return max_pool2d(t[0], p3); }, {x});
  check_grad([p3](const TensorList& t) { return avg_pool2d(t[0], p3); }, {x});
  Pool2dArgs p4{{3, 3}, {2, 2}, {1, 1}, false};
  check_grad([p4](const TensorList& t) { return avg_pool2d(t[0], p4); }, {x});
  check_grad([](const TensorList& t) { return adaptive_avg_pool2d(t[0], {1, 1}); }, {x});
  check_grad([](const TensorList& t) { return adaptive_avg_pool2d(t[0], {4, 3}); }, {x});
}

TEST_CASE("gradcheck: batch norm in training and evaluation mode", "[gradcheck]") {
  Tensor x4 = param64({3, 2, 3, 2}, 71), x2 = param64({5, 3}, 72);
  Tensor g = param64({2}, 73, 0.5, 1.5), b = param64({2}, 74);
  Tensor g3 = param64({3}, 75, 0.5, 1.5), b3 = param64({3}, 76);
  Tensor rm = zeros({2}, DType::f64), rv = ones({2}, DType::f64);
  check_grad([rm, rv](const TensorList& t) { return batch_norm(t[0], t[1], t[2], rm, rv, true); }, {x4, g, b});
  check_grad([](const TensorList& t) { return batch_norm(t[0], t[1], t[2], Tensor(), Tensor(), true); }, {x2, g3, b3});
  Tensor erm = data64({2}, 77), erv = data64({2}, 78, 0.5, 2);
  check_grad([erm, erv](const TensorList& t) { return batch_norm(t[0], t[1], t[2], erm, erv, false); }, {x4, g, b});
  check_grad([](const TensorList& t) { return batch_norm(t[0], Tensor(), Tensor(), Tensor(), Tensor(), true); }, {x4});
}

TEST_CASE("gradcheck: softmax, log-softmax and cross-entropy", "[gradcheck]") {
  Tensor x = param64({3, 4, 2}, 81);
  check_grad([](const TensorList& t) { return softmax(t[0], 1); }, {x});
  check_grad([](const TensorList& t) { return log_softmax(t[0], -1); }, {x});
  Tensor logits = param64({5, 4}, 82, -2, 2);
  Tensor labels = from_vector<int32_t>({0, 3, 1, 1, 2});
  check_grad([labels](const TensorList& t) { return cross_entropy(t[0], labels); }, {logits});
  check_grad([labels](const TensorList& t) { return cross_entropy(t[0], labels, 0.1); }, {logits});
}

TEST_CASE("gradcheck: dropout with a fixed mask", "[gradcheck]") {
  Tensor x = param64({4, 5}, 91);
  check_grad(
      [](const TensorList& t) {
        Generator g(5);  // same mask on every evaluation
        return dropout(t[0], 0.3, true, &g);
      }, {x});
}

TEST_CASE("straight-through estimator uses the declared surrogate gradient", "[gradcheck][ste]") {
  Tensor x = param64({6}, 101, -3, 3);
  Tensor y = straight_through(x, [](const Tensor& v) { return round(v); });
  CHECK(y.to_vector<double>() == round(x.detach()).to_vector<double>());
  Tensor w = data64({6}, 102);
  sum(mul(y, w)).backward();
  CHECK(x.grad().to_vector<double>() == w.to_vector<double>());  // identity

  Tensor x2 = param64({6}, 103, -3, 3);
  Tensor y2 = straight_through(
      x2, [](const Tensor& v) { return sign(v); },
      [](const Tensor& g, const Tensor& v) { return mul(g, clamp(v, -1, 1)); });
  sum(y2).backward();
  std::vector<double> xs = x2.detach().to_vector<double>(), gs = x2.grad().to_vector<double>();
  for (size_t i = 0; i < xs.size(); ++i) CHECK(gs[i] == std::min(1.0, std::max(-1.0, xs[i])));
}
