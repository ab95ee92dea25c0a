// Trained model -> deploy graph (deploy/model.h): each Conv2d/Linear with its effective (quantised)
// weight as int8 codes and per-channel scales, the batch norm that follows folded into the scale and
// bias, ReLU / residual adds / ShiftResNet's shift fused into the conv that precedes them, and every
// activation's uint8 scale and zero point calibrated on a batch of training images (their float
// minimum and maximum in the float-simulated model).
//
// Supported: DeepShift's mnist-fc / mnist-conv, the CIFAR ResNets (option A and B shortcuts) and
// ShiftResNets, with any quantizer family; other models are refused with a message naming them.
#pragma once
#include <string>
#include <vector>

#include "deploy/model.h"
#include "layers/module.h"

namespace sl {

struct ExportedLayer {
  std::string name;     // "layer1.0.conv2"
  std::string format;   // "deepshift-ps 5-bit", "fp32"
  int64_t weights = 0;
  size_t levels = 0;    // distinct integer weights
  int code_bits = 8;
  int64_t rounded = 0, zeroed = 0, inexact_channels = 0;
  double max_relative_error = 0;
};

struct ExportResult {
  deploy::Graph graph;
  std::vector<ExportedLayer> layers;
};

// `calibration`: float NCHW images as the model takes them (normalised). The model is put in eval
// mode and must live on the CPU.
ExportResult export_model(Module& model, const Tensor& calibration);

}  // namespace sl
