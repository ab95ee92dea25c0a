// Initialisers: torch.nn.init formulas, filled with the device's counter-based RNG kernels.
#include "layers/init.h"

#include <cmath>

#include "backends/backend.h"

namespace sl::init {

namespace {
void check_floating_param(const char* fn, const Tensor& t) {
  SL_CHECK(t.defined(), "{}: the tensor is undefined", fn);
  SL_CHECK(is_floating(t.dtype()), "{}: needs a floating tensor, got {}", fn, t.dtype());
}

double fan_of(const Tensor& t, FanMode mode, const char* fn) {
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  int64_t fan = mode == FanMode::fan_in ? fan_in : fan_out;
  SL_CHECK(fan > 0, "{}: fan is 0 for shape {}", fn, shape_str(t.shape()));
  return static_cast<double>(fan);
}
}  // namespace

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& t) {
  SL_CHECK(t.dim() >= 2, "init: fan in and fan out need a tensor with at least 2 dimensions, got {}",
           shape_str(t.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "conv2d" || nonlinearity == "sigmoid" || nonlinearity == "identity")
    return 1;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  fail("calculate_gain: unknown nonlinearity '{}' (linear, conv2d, sigmoid, tanh, relu, leaky_relu, selu)",
       nonlinearity);
}

namespace {
thread_local bool g_skip_random_init = false;
}  // namespace

SkipRandomInit::SkipRandomInit() : previous_(g_skip_random_init) { g_skip_random_init = true; }
SkipRandomInit::~SkipRandomInit() { g_skip_random_init = previous_; }

void uniform_(Tensor& t, double lo, double hi, Generator& gen) {
  check_floating_param("uniform_", t);
  SL_CHECK(lo <= hi, "uniform_: lo {} is above hi {}", lo, hi);
  if (g_skip_random_init) return;
  uint64_t offset = gen.reserve(t.numel());
  if (t.numel() > 0) backend(t.device()).fill_uniform(t.dtype(), t.raw_data(), t.numel(), gen.seed(), offset, lo, hi);
}

void normal_(Tensor& t, double mean, double stddev, Generator& gen) {
  check_floating_param("normal_", t);
  SL_CHECK(stddev >= 0, "normal_: stddev {} is negative", stddev);
  if (g_skip_random_init) return;
  uint64_t offset = gen.reserve(t.numel());
  if (t.numel() > 0)
    backend(t.device()).fill_normal(t.dtype(), t.raw_data(), t.numel(), gen.seed(), offset, mean, stddev);
}

void constant_(Tensor& t, double value) {
  SL_CHECK(t.defined(), "constant_: the tensor is undefined");
  if (t.numel() > 0) backend(t.device()).fill(t.dtype(), t.raw_data(), t.numel(), value);
}

void kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity, Generator& gen) {
  check_floating_param("kaiming_uniform_", t);
  double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / fan_of(t, mode, "kaiming_uniform_"));
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity, Generator& gen) {
  check_floating_param("kaiming_normal_", t);
  normal_(t, 0, calculate_gain(nonlinearity, a) / std::sqrt(fan_of(t, mode, "kaiming_normal_")), gen);
}

}  // namespace sl::init
