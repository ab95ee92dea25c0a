// Shift2d as a layer (torch-style module around autograd's shift2d): no parameters, no FLOPs. Each
// channel is moved by one offset of a k x k neighbourhood (dilated by d), with zero fill at the
// borders, following ShiftResNet's CUDA kernel (cyclic channel-to-offset table, the last C mod k^2
// channels unshifted; backends/params.h shift2d_offset). The layer named `shift2` inside a ShiftConv
// block is one of these, as in shiftresnet-cifar.
#pragma once
#include "layers/module.h"
#include "layers/options.h"

namespace sl {

struct Shift2dOptions {
  SL_ARG(int64_t, kernel_size) = 3;  // odd and positive: 1 is the identity
  SL_ARG(int64_t, dilation) = 1;     // offsets are multiplied by it
};

class Shift2d : public Module {
 public:
  // Throws sl::Error naming the option when the kernel size is even or not positive, or the
  // dilation is below 1 (checked here, not at the first forward, so a bad model fails when built).
  explicit Shift2d(const Shift2dOptions& options = {});
  std::string type_name() const override { return "Shift2d"; }
  Tensor forward(const Tensor& x) override;
  const Shift2dOptions& options() const { return options_; }

 private:
  Shift2dOptions options_;
};

}  // namespace sl
