// Conv2d (torch.nn.Conv2d, zero padding): stride, padding, dilation, groups, optional bias, with the
// quantizer hooks of WeightLayer. Default init as PyTorch: W ~ kaiming_uniform(a = sqrt(5)) =
// U(+-1/sqrt(fan_in)), b ~ U(+-1/sqrt(fan_in)), fan_in = in/groups * kh * kw.
#pragma once
#include <array>

#include "layers/options.h"
#include "layers/weight_layer.h"

namespace sl {

struct Conv2dOptions {
  Conv2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel)
      : Conv2dOptions(in_channels, out_channels, Size2{kernel, kernel}) {}
  Conv2dOptions(int64_t in_channels, int64_t out_channels, Size2 kernel)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel) {}
  // Square shorthands: stride(2) means {2, 2}.
  Conv2dOptions& stride(int64_t s) { return stride(Size2{s, s}); }
  Conv2dOptions& padding(int64_t p) { return padding(Size2{p, p}); }
  Conv2dOptions& dilation(int64_t d) { return dilation(Size2{d, d}); }
  SL_ARG(int64_t, in_channels);
  SL_ARG(int64_t, out_channels);
  SL_ARG(Size2, kernel_size);
  SL_ARG(Size2, stride) = {1, 1};
  SL_ARG(Size2, padding) = {0, 0};
  SL_ARG(Size2, dilation) = {1, 1};
  SL_ARG(int64_t, groups) = 1;
  SL_ARG(bool, bias) = true;
};

class Conv2d : public WeightLayer {
 public:
  explicit Conv2d(const Conv2dOptions& options, Generator& gen = default_generator());
  std::string type_name() const override { return "Conv2d"; }
  Tensor forward(const Tensor& x) override;
  // forward(shift2d(x, kernel, dilation)) without the shifted copy when this is a 1x1 unpadded conv of
  // one group with no input quantizer (ShiftResNet's conv after the shift); the composition otherwise.
  Tensor forward_shifted(const Tensor& x, int64_t kernel, int64_t dilation);
  const Conv2dOptions& options() const { return options_; }
  Conv2dArgs args() const;
  void reset_parameters(Generator& gen = default_generator());
  // Output spatial size for an input of h x w (throws naming the layer when it would be empty).
  Size2 output_size(int64_t h, int64_t w) const;
  // N * C_out * H_out * W_out * (C_in / groups) * kh * kw.
  int64_t macs(const Shape& input, const Shape& output) const override;

 private:
  Conv2dOptions options_;
};

}  // namespace sl
