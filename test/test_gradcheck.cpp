// gradcheck itself (a wrong gradient must fail it), the rules finite differences cannot check, and
// the straight-through estimator. Every op's finite-difference check runs from the op-case table
// (opcases/, test/test_op_cases.cpp).
#include "helpers.h"

using namespace sl;
using sl::test::data64;
using sl::test::param64;

TEST_CASE("gradcheck fails a wrong gradient and names the element", "[gradcheck]") {
  Tensor x = param64({3, 4}, 1);
  // square's true derivative is 2x; a surrogate of x is wrong everywhere except at 0.
  auto wrong = [](const TensorList& t) {
    return straight_through(
        t[0], [](const Tensor& v) { return square(v); }, [](const Tensor& g, const Tensor& v) { return mul(g, v); });
  };
  GradcheckResult r = gradcheck(wrong, {x});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("input 0 element 0") != std::string::npos);
  auto right = [](const TensorList& t) { return square(t[0]); };
  CHECK(gradcheck(right, {x}).ok);

  // A gradient wrong in the last element only is still caught when a subset of elements is checked.
  Tensor y = param64({1000}, 2);
  auto wrong_last = [](const TensorList& t) {
    return straight_through(t[0], [](const Tensor& v) { return clone(v); },
                            [](const Tensor& g, const Tensor& v) {
                              std::vector<double> m(static_cast<size_t>(v.numel()), 1.0);
                              m.back() = 2.0;
                              return mul(g, from_vector(m, v.shape()));
                            });
  };
  GradcheckOptions few;
  few.max_elements = 10;
  GradcheckResult last = gradcheck(wrong_last, {y}, few);
  CHECK_FALSE(last.ok);
  CHECK(last.message.find("element 999") != std::string::npos);
}

TEST_CASE("gradcheck: the gradient through an f32 round trip is the identity", "[gradcheck]") {
  // A round trip through f32 loses the precision finite differences need: check the rule directly.
  Tensor x = param64({2, 3, 4}, 31), w = data64({2, 3, 4}, 33);
  sum(mul(to_dtype(x, DType::f32), to_dtype(w, DType::f32))).backward();
  std::vector<double> gx = x.grad().to_vector<double>(), wv = w.to_vector<double>();
  for (size_t i = 0; i < gx.size(); ++i) CHECK(gx[i] == Approx(wv[i]).epsilon(1e-6));
  x.set_grad(Tensor());
  sum(mul(to_device(x, Device::cpu), w)).backward();
  CHECK(x.grad().to_vector<double>() == wv);
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
