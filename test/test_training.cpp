// End to end on the core: a two-layer MLP trained with a hand-written SGD loop must learn a
// 4-class problem (Gaussian clusters) and drive its loss down.
#include "helpers.h"

using namespace sl;

TEST_CASE("a small MLP trained with plain SGD learns four Gaussian clusters", "[training]") {
  const int64_t n = 512, classes = 4, hidden = 32;
  Generator gen(2024);
  std::vector<float> centers = {-2, -2, 2, -2, -2, 2, 2, 2};
  Tensor noise = randn({n, 2}, DType::f32, Device::cpu, 0, 0.6, &gen);
  std::vector<float> xs = noise.to_vector<float>();
  std::vector<int32_t> ys(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int32_t c = static_cast<int32_t>(i % classes);
    ys[static_cast<size_t>(i)] = c;
    xs[static_cast<size_t>(2 * i)] += centers[static_cast<size_t>(2 * c)];
    xs[static_cast<size_t>(2 * i + 1)] += centers[static_cast<size_t>(2 * c + 1)];
  }
  Tensor x = from_vector(xs, {n, 2}), y = from_vector(ys);

  Tensor w1 = randn({hidden, 2}, DType::f32, Device::cpu, 0, 0.5, &gen), b1 = zeros({hidden});
  Tensor w2 = randn({classes, hidden}, DType::f32, Device::cpu, 0, 0.2, &gen), b2 = zeros({classes});
  TensorList params{w1, b1, w2, b2};
  for (Tensor& p : params) p.requires_grad_();

  auto forward = [&] { return linear(relu(linear(x, w1, b1)), w2, b2); };
  double first_loss = cross_entropy(forward(), y).item();
  double loss_value = first_loss;
  for (int step = 0; step < 200; ++step) {
    for (Tensor& p : params) p.set_grad(Tensor());
    Tensor loss = cross_entropy(forward(), y);
    loss.backward();
    loss_value = loss.item();
    NoGradGuard no_grad;
    for (Tensor& p : params) {  // p -= lr * grad, in place on the parameter's storage
      Tensor updated = sub(p.detach(), mul(p.grad(), scalar_like(0.5, p)));
      std::copy_n(updated.data<float>(), p.numel(), p.data<float>());
    }
  }
  Tensor pred = argmax(forward(), 1);
  int correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += pred.data<int32_t>()[i] == ys[static_cast<size_t>(i)];
  INFO("first loss " << first_loss << ", final loss " << loss_value << ", accuracy " << correct << "/" << n);
  CHECK(first_loss > 1.0);
  CHECK(loss_value < 0.1);
  CHECK(correct >= n * 97 / 100);
}
