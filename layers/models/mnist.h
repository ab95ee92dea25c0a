// DeepShift's MNIST models (pytorch/mnist.py), with its module names so the shift-depth ordering
// (reverse registration order) is the same. The final log_softmax is omitted: the models return
// logits and cross_entropy applies log_softmax (DeepShift applies it twice, which is the identity on
// log-probabilities, so the loss is unchanged).
#pragma once
#include <memory>
#include <string>

#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/linear.h"
#include "layers/models/registry.h"

namespace sl {

// "Simple FC": flatten -> fc1 (C*S*S -> 512) -> ReLU -> dropout1(0.2) -> fc2 (512 -> 512) -> ReLU ->
// dropout2(0.2) -> fc3 (512 -> classes). 669,706 parameters for 1 x 28 x 28 and 10 classes.
class LinearMNIST : public Module {
 public:
  LinearMNIST(int64_t in_features, int64_t num_classes);
  std::string type_name() const override { return "LinearMNIST"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Linear> fc1, fc2, fc3;
  std::shared_ptr<Dropout> dropout1, dropout2;
};

// "Simple Conv": conv1 (C -> 20, 5x5) -> ReLU -> maxpool 2 -> conv2 (20 -> 50, 5x5) -> ReLU ->
// maxpool 2 -> flatten -> fc1 (50*f*f -> 500) -> ReLU -> fc2 (500 -> classes); f = 4 for 28 x 28.
// 431,080 parameters for 1 x 28 x 28 and 10 classes.
class ConvMNIST : public Module {
 public:
  ConvMNIST(int64_t in_channels, int64_t feature_size, int64_t num_classes);
  std::string type_name() const override { return "ConvMNIST"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<Linear> fc1, fc2;

 private:
  int64_t feature_size_;
};

namespace models {
ModulePtr make_mnist_fc(const std::string& arch, const ModelOptions& o);
ModulePtr make_mnist_conv(const std::string& arch, const ModelOptions& o);
}  // namespace models

}  // namespace sl
