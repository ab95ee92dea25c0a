// DeepShift's MNIST models. No custom init in the reference: PyTorch's layer defaults.
#include "layers/models/mnist.h"

#include "layers/models/common.h"

namespace sl {

LinearMNIST::LinearMNIST(int64_t in_features, int64_t num_classes) {
  // Registration order as DeepShift's __init__: fc1, dropout1, fc2, dropout2, fc3.
  fc1 = register_module("fc1", std::make_shared<Linear>(in_features, 512));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(0.2));
  fc2 = register_module("fc2", std::make_shared<Linear>(512, 512));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(0.2));
  fc3 = register_module("fc3", std::make_shared<Linear>(512, num_classes));
}

Tensor LinearMNIST::forward(const Tensor& x) {
  Tensor h = reshape(x, {x.size(0), -1});
  h = dropout1->forward(relu(fc1->forward(h)));
  h = dropout2->forward(relu(fc2->forward(h)));
  return fc3->forward(h);
}

ConvMNIST::ConvMNIST(int64_t in_channels, int64_t feature_size, int64_t num_classes) : feature_size_(feature_size) {
  conv1 = register_module("conv1", std::make_shared<Conv2d>(Conv2dOptions(in_channels, 20, 5)));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(Conv2dOptions(20, 50, 5)));
  fc1 = register_module("fc1", std::make_shared<Linear>(50 * feature_size * feature_size, 500));
  fc2 = register_module("fc2", std::make_shared<Linear>(500, num_classes));
}

Tensor ConvMNIST::forward(const Tensor& x) {
  Pool2dArgs pool;  // 2 x 2, stride 2
  Tensor h = max_pool2d(relu(conv1->forward(x)), pool);
  h = max_pool2d(relu(conv2->forward(h)), pool);
  h = reshape(h, {h.size(0), -1});
  return fc2->forward(relu(fc1->forward(h)));
}

namespace models {

ModulePtr make_mnist_fc(const std::string&, const ModelOptions& o) {
  auto m = std::make_shared<LinearMNIST>(o.in_channels * o.image_size * o.image_size, o.num_classes);
  apply_init(*m, o, "pytorch");
  return m;
}

ModulePtr make_mnist_conv(const std::string& arch, const ModelOptions& o) {
  // conv 5 (valid) -> pool 2 -> conv 5 -> pool 2: 28 -> 24 -> 12 -> 8 -> 4.
  int64_t s = window_out(o.image_size, 5, 1, 0);
  s = window_out(s, 2, 2, 0);
  s = window_out(s, 5, 1, 0);
  s = window_out(s, 2, 2, 0);
  SL_CHECK(s > 0,
           "make_model(\"{}\"): image_size {} is too small: two 5x5 convolutions and two 2x2 poolings need at "
           "least 16 pixels (28 gives the reference 4x4x50 = 800 features)",
           arch, o.image_size);
  auto m = std::make_shared<ConvMNIST>(o.in_channels, s, o.num_classes);
  apply_init(*m, o, "pytorch");
  return m;
}

}  // namespace models

}  // namespace sl
