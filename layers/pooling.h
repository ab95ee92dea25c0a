// Pooling modules (torch.nn.MaxPool2d, AvgPool2d, AdaptiveAvgPool2d). A stride of 0 (the default)
// means "equal to the kernel", as PyTorch's stride=None. ceil_mode is not supported.
#pragma once
#include <array>

#include "layers/module.h"
#include "layers/options.h"

namespace sl {

struct Pool2dOptions {
  /* implicit */ Pool2dOptions(int64_t kernel) : kernel_size_({kernel, kernel}) {}
  /* implicit */ Pool2dOptions(Size2 kernel) : kernel_size_(kernel) {}
  Pool2dOptions& stride(int64_t s) { return stride(Size2{s, s}); }
  Pool2dOptions& padding(int64_t p) { return padding(Size2{p, p}); }
  SL_ARG(Size2, kernel_size);
  SL_ARG(Size2, stride) = {0, 0};
  SL_ARG(Size2, padding) = {0, 0};
  SL_ARG(bool, count_include_pad) = true;  // AvgPool2d only
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& options);
  std::string type_name() const override { return "MaxPool2d"; }
  Tensor forward(const Tensor& x) override;
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& options);
  std::string type_name() const override { return "AvgPool2d"; }
  Tensor forward(const Tensor& x) override;
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size);
  explicit AdaptiveAvgPool2d(int64_t output_size) : AdaptiveAvgPool2d({output_size, output_size}) {}
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  Tensor forward(const Tensor& x) override;
  Size2 output_size() const { return output_size_; }

 private:
  Size2 output_size_;
};

}  // namespace sl
