// Bad use of the core API throws sl::Error with a message naming the op and the shapes.
#include "helpers.h"

using namespace sl;
using sl::test::error_of;

namespace {
bool contains_all(const std::string& msg, std::initializer_list<const char*> parts) {
  for (const char* p : parts)
    if (msg.find(p) == std::string::npos) return false;
  return true;
}
}  // namespace

TEST_CASE("shape mismatches name the op and both shapes", "[errors]") {
  std::string m = error_of([] { matmul(zeros({2, 3}), zeros({4, 5})); });
  INFO(m);
  CHECK(contains_all(m, {"matmul", "[2, 3]", "[4, 5]"}));
  m = error_of([] { add(zeros({2, 3}), zeros({4})); });
  INFO(m);
  CHECK(contains_all(m, {"add", "[2, 3]", "[4]", "broadcast"}));
  m = error_of([] { conv2d(zeros({1, 3, 8, 8}), zeros({4, 2, 3, 3})); });
  INFO(m);
  CHECK(contains_all(m, {"conv2d", "[4, 2, 3, 3]", "[1, 3, 8, 8]"}));
  m = error_of([] { conv2d(zeros({1, 3, 2, 2}), zeros({4, 3, 3, 3})); });
  INFO(m);
  CHECK(contains_all(m, {"conv2d", "larger than the padded input"}));
  m = error_of([] { linear(zeros({2, 3}), zeros({4, 5})); });
  INFO(m);
  CHECK(contains_all(m, {"linear", "[2, 3]", "[4, 5]"}));
  m = error_of([] { reshape(zeros({2, 3}), {4, 2}); });
  CHECK(contains_all(m, {"reshape", "[2, 3]", "[4, 2]"}));
  m = error_of([] { cat({zeros({2, 3}), zeros({2, 4})}, 0); });
  CHECK(contains_all(m, {"cat", "[2, 3]", "[2, 4]"}));
  m = error_of([] { batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true); });
  CHECK(contains_all(m, {"batch_norm", "more than 1 value"}));
}

TEST_CASE("wrong dtypes are reported", "[errors]") {
  std::string m = error_of([] { add(zeros({2}), zeros({2}, DType::f64)); });
  CHECK(contains_all(m, {"add", "f32", "f64"}));
  m = error_of([] { relu(zeros({2}, DType::i32)); });
  CHECK(contains_all(m, {"relu", "i32"}));
  m = error_of([] { cross_entropy(zeros({2, 3}), zeros({2})); });
  CHECK(contains_all(m, {"cross_entropy", "i32"}));
  m = error_of([] { zeros({2}, DType::u8).requires_grad_(); });
  CHECK(contains_all(m, {"requires_grad_", "u8"}));
}

TEST_CASE("backward needs a scalar, a graph, and a live graph", "[errors]") {
  Tensor x = ones({3});
  x.requires_grad_();
  std::string m = error_of([&] { mul(x, x).backward(); });
  CHECK(contains_all(m, {"backward", "scalar", "[3]"}));
  m = error_of([] { sum(ones({3})).backward(); });
  CHECK(contains_all(m, {"backward", "does not require grad"}));
  Tensor loss = sum(mul(x, x));
  loss.backward();
  m = error_of([&] { loss.backward(); });
  CHECK(contains_all(m, {"retain_graph"}));
  m = error_of([] { cross_entropy(zeros({2, 3}), from_vector<int32_t>({1, 3})); });
  CHECK(contains_all(m, {"label 3", "index 1", "[0, 3)"}));
}

TEST_CASE("gradients accumulate across backward calls and through shared inputs", "[autograd]") {
  Tensor x = from_vector<double>({1, 2, 3});
  x.requires_grad_();
  Tensor y = sum(add(mul(x, x), x));  // d/dx = 2x + 1
  y.backward(Tensor(), true);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 5, 7});
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{6, 10, 14});
  {
    NoGradGuard guard;
    CHECK_FALSE(mul(x, x).requires_grad());
  }
  CHECK(mul(x, x).requires_grad());
  CHECK_FALSE(x.detach().requires_grad());
}
