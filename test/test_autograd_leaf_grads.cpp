// A leaf's gradient is its own: backward takes over a gradient tensor no one else holds and copies a
// shared one (the same tensor handed to several inputs, a view of the incoming gradient, the caller's).
#include "autograd/ops.h"
#include "backends/profiler.h"
#include "helpers.h"

using namespace sl;

namespace {
Tensor leaf_of(const Shape& shape, double value) {
  Tensor t = full(shape, value);
  t.requires_grad_();
  return t;
}
bool shares_memory(const Tensor& a, const Tensor& b) { return a.impl()->storage == b.impl()->storage; }
}  // namespace

TEST_CASE("leaves handed one gradient tensor each get their own copy", "[autograd]") {
  Tensor a = leaf_of({4}, 1.0), b = leaf_of({4}, 2.0);
  Tensor seed = full({4}, 3.0);
  add(a, b).backward(seed);  // add's backward hands its incoming gradient to both inputs
  REQUIRE(a.grad().defined());
  REQUIRE(b.grad().defined());
  CHECK_FALSE(shares_memory(a.grad(), b.grad()));
  CHECK_FALSE(shares_memory(a.grad(), seed));
  CHECK_FALSE(shares_memory(b.grad(), seed));
  copy_data(a.grad(), full({4}, -7.0));  // what an in-place gradient clip would do
  CHECK(b.grad().to_vector<float>() == std::vector<float>(4, 3.0f));
  CHECK(seed.to_vector<float>() == std::vector<float>(4, 3.0f));
}

TEST_CASE("a leaf's gradient is not a view of another tensor's", "[autograd]") {
  Tensor a = leaf_of({2, 3}, 1.0);
  Tensor seed = full({6}, 5.0);
  reshape(a, {6}).backward(seed);  // reshape's backward returns a view of the seed
  REQUIRE(a.grad().defined());
  CHECK(a.grad().shape() == Shape{2, 3});
  CHECK_FALSE(shares_memory(a.grad(), seed));
  copy_data(a.grad(), full({2, 3}, 0.0));
  CHECK(seed.to_vector<float>() == std::vector<float>(6, 5.0f));
}

TEST_CASE("a gradient no one else holds becomes the leaf's without a copy", "[autograd]") {
  Tensor a = leaf_of({3}, 2.0), c = full({3}, 4.0);
  Tensor y = mul(a, c), seed = full({3}, 1.0);
  KernelProfiler::reset();
  KernelProfiler::enable(true);
  y.backward(seed);  // mul's backward makes a fresh tensor g * c for a
  KernelProfiler::enable(false);
  const std::string kernels = KernelProfiler::report(1.0);
  INFO(kernels);
  CHECK(kernels.find("\ncopy ") == std::string::npos);
  CHECK(a.grad().to_vector<float>() == std::vector<float>(3, 4.0f));
}

TEST_CASE("is_sole_owner: one handle to all of its storage", "[tensor]") {
  Tensor t = full({4}, 1.0);
  CHECK(t.is_sole_owner());
  {
    Tensor other = t;
    CHECK_FALSE(t.is_sole_owner());
  }
  CHECK(t.is_sole_owner());
  Tensor view = reshape(t.detach(), {2, 2});
  CHECK_FALSE(t.is_sole_owner());     // the view shares its storage
  CHECK_FALSE(view.is_sole_owner());
  Tensor rows = full({4, 2}, 1.0);
  Tensor first_row = rows.slice(0, 1);
  rows = Tensor();
  CHECK_FALSE(first_row.is_sole_owner());  // alone on its storage, but it uses only part of it
  CHECK_FALSE(Tensor().is_sole_owner());
}
