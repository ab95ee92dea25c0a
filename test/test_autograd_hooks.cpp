// The leaf hook of backward() (AutogradMeta::grad_final_hook), which the overlapped gradient
// all-reduce starts its buckets from: called once per backward, when the leaf's gradient is final.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "helpers.h"

using namespace sl;

TEST_CASE("backward calls a leaf's hook once, after every path to it has delivered", "[autograd]") {
  Tensor x = full({3}, 2.0);
  x.requires_grad_();
  Tensor w = full({3}, 3.0);
  w.requires_grad_();
  Tensor unused = full({3}, 1.0);
  unused.requires_grad_();
  std::vector<std::vector<float>> seen_x;
  int calls_w = 0, calls_unused = 0;
  x.impl()->autograd->grad_final_hook = [&] { seen_x.push_back(x.grad().to_vector<float>()); };
  w.impl()->autograd->grad_final_hook = [&] { ++calls_w; };
  unused.impl()->autograd->grad_final_hook = [&] { ++calls_unused; };
  // x reaches the loss by three paths (x * w, x * x twice): d/dx = w + 2x = 7.
  Tensor loss = sum(add(mul(x, w), mul(x, x)));
  loss.backward();
  REQUIRE(seen_x.size() == 1);
  CHECK(seen_x[0] == std::vector<float>{7, 7, 7});
  CHECK(calls_w == 1);
  CHECK(calls_unused == 0);
  // A leaf as the root of backward gets its hook too.
  Tensor y = full({}, 1.0);
  y.requires_grad_();
  int calls_y = 0;
  y.impl()->autograd->grad_final_hook = [&] { ++calls_y; };
  y.backward();
  CHECK(calls_y == 1);
}
