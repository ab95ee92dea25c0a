// What two families share: DeepShift-Q's and -PS's fixed-point activations, APoT's and uniform's
// quantizers (one class with a `power` switch), and S3's and DenseShift's constant layer scale.
#pragma once
#include "quant/deepshift.h"
#include "quant/families.h"

namespace sl {

// act_bits as DeepShift's I F (default 16 16).
FixedPointFormat fixed_point_format(const QuantConfig& c);
// Reads every option a DeepShift family takes as the conversion would, throwing on a bad one.
void check_deepshift_options(const QuantConfig& c);

// APoT (power) or uniform: activation bits (32 = FP32 activations) and their check.
int apot_activation_bits(const QuantConfig& c, int weight_bits, bool power);
void check_apot_options(const QuantConfig& c, int bits, bool power);
void attach_apot(const FamilyLayer& f, const QuantConfig& c, bool power);
StandaloneQuantizer apot_standalone(const StandaloneOptions& o, const std::vector<Tensor>& in, bool power);
StandaloneActivation apot_activation(const StandaloneOptions& o, int act_bits, bool power);

// 1/sqrt(3 fan_in): the std of PyTorch's default init U(+-1/sqrt(fan_in)).
double unit_scale(const WeightLayer& layer);

// One --in file: the layer weight the quantizer reads.
std::vector<size_t> one_input(int bits);

}  // namespace sl
