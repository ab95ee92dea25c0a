// Pooling modules: option checks (with the layer named in errors) around the pooling ops.
#include "layers/pooling.h"

namespace sl {

namespace {
Pool2dArgs to_args(const Pool2dOptions& o, const char* name) {
  for (int i = 0; i < 2; ++i) {
    SL_CHECK(o.kernel_size()[i] > 0, "{}: kernel_size must be positive, got {}", name, o.kernel_size());
    SL_CHECK(o.stride()[i] >= 0, "{}: stride must be positive (or 0 for the kernel size), got {}", name, o.stride());
    SL_CHECK(o.padding()[i] >= 0 && 2 * o.padding()[i] <= o.kernel_size()[i],
             "{}: padding {} must be at most half the kernel size {}", name, o.padding(), o.kernel_size());
  }
  Pool2dArgs a;
  a.kernel = o.kernel_size();
  a.stride = o.stride();
  a.padding = o.padding();
  a.count_include_pad = o.count_include_pad();
  return a;
}

void check_4d(const Tensor& x, const char* name) {
  SL_CHECK(x.dim() == 4, "{}: expected input [n, c, h, w], got {}", name, shape_str(x.shape()));
}
}  // namespace

MaxPool2d::MaxPool2d(const Pool2dOptions& options) : options_(options) { to_args(options, "MaxPool2d"); }

Tensor MaxPool2d::forward(const Tensor& x) {
  check_4d(x, "MaxPool2d");
  return max_pool2d(x, to_args(options_, "MaxPool2d"));
}

AvgPool2d::AvgPool2d(const Pool2dOptions& options) : options_(options) { to_args(options, "AvgPool2d"); }

Tensor AvgPool2d::forward(const Tensor& x) {
  check_4d(x, "AvgPool2d");
  return avg_pool2d(x, to_args(options_, "AvgPool2d"));
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output_size) : output_size_(output_size) {
  SL_CHECK(output_size[0] > 0 && output_size[1] > 0, "AdaptiveAvgPool2d: output_size must be positive, got {}",
           output_size);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  check_4d(x, "AdaptiveAvgPool2d");
  return adaptive_avg_pool2d(x, output_size_);
}

}  // namespace sl
