// Conv2d: option checks, PyTorch's default init and the hooked product.
#include "layers/conv2d.h"

#include <cmath>

#include "layers/init.h"

namespace sl {

Conv2d::Conv2d(const Conv2dOptions& o, Generator& gen) : options_(o) {
  SL_CHECK(o.in_channels() > 0 && o.out_channels() > 0, "Conv2d: channels must be positive, got in {} out {}",
           o.in_channels(), o.out_channels());
  SL_CHECK(o.groups() > 0, "Conv2d: groups must be positive, got {}", o.groups());
  SL_CHECK(o.in_channels() % o.groups() == 0 && o.out_channels() % o.groups() == 0,
           "Conv2d: in_channels {} and out_channels {} must both be divisible by groups {}", o.in_channels(),
           o.out_channels(), o.groups());
  for (int i = 0; i < 2; ++i) {
    SL_CHECK(o.kernel_size()[i] > 0, "Conv2d: kernel_size must be positive, got {}", o.kernel_size());
    SL_CHECK(o.stride()[i] > 0, "Conv2d: stride must be positive, got {}", o.stride());
    SL_CHECK(o.padding()[i] >= 0, "Conv2d: padding must be non-negative, got {}", o.padding());
    SL_CHECK(o.dilation()[i] > 0, "Conv2d: dilation must be positive, got {}", o.dilation());
  }
  init_weight(Tensor::empty({o.out_channels(), o.in_channels() / o.groups(), o.kernel_size()[0], o.kernel_size()[1]}));
  if (o.bias()) init_bias(Tensor::empty({o.out_channels()}));
  reset_parameters(gen);
}

void Conv2d::reset_parameters(Generator& gen) {
  if (!weight().defined()) return;
  Tensor w = weight();
  init::kaiming_uniform_(w, std::sqrt(5.0), init::FanMode::fan_in, "leaky_relu", gen);
  if (has_bias()) {
    Tensor b = bias();
    double bound = 1.0 / std::sqrt(static_cast<double>(init::fan_in_and_fan_out(w).first));
    init::uniform_(b, -bound, bound, gen);
  }
}

Conv2dArgs Conv2d::args() const {
  Conv2dArgs a;
  a.stride = options_.stride();
  a.padding = options_.padding();
  a.dilation = options_.dilation();
  a.groups = options_.groups();
  return a;
}

Size2 Conv2d::output_size(int64_t h, int64_t w) const {
  Size2 in{h, w}, out{};
  for (int i = 0; i < 2; ++i) {
    int64_t span = options_.dilation()[i] * (options_.kernel_size()[i] - 1) + 1;
    int64_t padded = in[i] + 2 * options_.padding()[i];
    out[i] = padded >= span ? (padded - span) / options_.stride()[i] + 1 : 0;
  }
  SL_CHECK(out[0] > 0 && out[1] > 0, "Conv2d({}, {}, kernel {}): input {}x{} is smaller than the kernel",
           options_.in_channels(), options_.out_channels(), options_.kernel_size(), h, w);
  return out;
}

Tensor Conv2d::forward(const Tensor& x) {
  SL_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels(), "Conv2d({}, {}): expected input [n, {}, h, w], got {}",
           options_.in_channels(), options_.out_channels(), options_.in_channels(), shape_str(x.shape()));
  output_size(x.size(2), x.size(3));  // a clear error before the kernel's
  Tensor y = conv2d(quantize_input(x), effective_weight(), effective_bias(), args());
  record_forward(x.shape(), y.shape());
  return y;
}

Tensor Conv2d::forward_shifted(const Tensor& x, int64_t kernel, int64_t dilation) {
  const auto& o = options_;
  const bool fusable = o.kernel_size() == Size2{1, 1} && o.padding() == Size2{0, 0} && o.dilation() == Size2{1, 1} &&
                       o.groups() == 1 && o.stride()[0] == o.stride()[1] && !input_quantizer();
  // An input quantizer acts on the shifted map (its zeros included), so that layer keeps the copy.
  if (!fusable) return forward(shift2d(x, kernel, dilation));
  SL_CHECK(x.dim() == 4 && x.size(1) == o.in_channels(), "Conv2d({}, {}): expected input [n, {}, h, w], got {}",
           o.in_channels(), o.out_channels(), o.in_channels(), shape_str(x.shape()));
  output_size(x.size(2), x.size(3));
  Tensor y = shift_conv2d(x, effective_weight(), kernel, dilation, o.stride()[0]);
  const Tensor b = effective_bias();
  if (b.defined()) y = add(y, reshape(b, {1, o.out_channels(), 1, 1}));
  record_forward(x.shape(), y.shape());
  return y;
}

int64_t Conv2d::macs(const Shape& input, const Shape& output) const {
  (void)input;
  const auto& o = options_;
  return shape_numel(output) * (o.in_channels() / o.groups()) * o.kernel_size()[0] * o.kernel_size()[1];
}

}  // namespace sl
