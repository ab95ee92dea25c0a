// Parameter initialisers with torch.nn.init's formulas. Each fills an existing tensor in place (its
// storage, on whatever device it lives) without recording a graph, and draws from a Generator so a
// model built after manual_seed(s) is reproducible.
#pragma once
#include <string>
#include <utility>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace sl::init {

enum class FanMode { fan_in, fan_out };

// While alive on this thread, uniform_ and normal_ (and so every random initialiser) leave tensors as
// they are: building a model only to read its parameter names and shapes (train/model_match.h) then
// costs an allocation instead of seconds of sampling for an ImageNet ResNet.
class SkipRandomInit {
 public:
  SkipRandomInit();
  ~SkipRandomInit();
  SkipRandomInit(const SkipRandomInit&) = delete;
  SkipRandomInit& operator=(const SkipRandomInit&) = delete;

 private:
  bool previous_;
};

// (fan_in, fan_out) as torch.nn.init._calculate_fan_in_and_fan_out: for a weight [out, in, k...],
// fan_in = in * prod(k) and fan_out = out * prod(k) (groups do not enter). Needs >= 2 dimensions.
std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& t);
// torch.nn.init.calculate_gain: "linear", "conv2d", "sigmoid" -> 1, "tanh" -> 5/3, "relu" -> sqrt(2),
// "leaky_relu" -> sqrt(2 / (1 + param^2)), "selu" -> 3/4. Unknown names throw.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

void uniform_(Tensor& t, double lo, double hi, Generator& gen = default_generator());
void normal_(Tensor& t, double mean, double stddev, Generator& gen = default_generator());
void constant_(Tensor& t, double value);
inline void zeros_(Tensor& t) { constant_(t, 0); }
inline void ones_(Tensor& t) { constant_(t, 1); }

// U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a). With a = sqrt(5)
// (nn.Linear's and nn.Conv2d's default) b = 1 / sqrt(fan_in).
void kaiming_uniform_(Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                      const std::string& nonlinearity = "leaky_relu", Generator& gen = default_generator());
// N(0, gain / sqrt(fan)); torchvision's ResNet uses mode fan_out, nonlinearity relu: std = sqrt(2 / (out * k * k)).
void kaiming_normal_(Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                     const std::string& nonlinearity = "leaky_relu", Generator& gen = default_generator());

}  // namespace sl::init
