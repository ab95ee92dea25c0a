// Building the pieces of a run from its RunConfig: data loaders, the model (FP32 weights from
// --weights, then quantization), optimizer parameter groups and the LR schedule. Shared by
// `shiftlab train`, `eval` and `bench train`.
#pragma once
#include <memory>
#include <string>

#include "data/loader.h"
#include "data/registry.h"
#include "layers/models/registry.h"
#include "quant/convert.h"
#include "quant/families.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"
#include "train/run_config.h"

namespace sl {

// The quantization options of the run (its quant keys) for quant/convert.h.
QuantConfig quant_config(const RunConfig& config);

// The model options the dataset implies (classes, channels, image size) for config.arch.
ModelOptions model_options_for(const RunConfig& config, const data::DatasetInfo& dataset);

struct BuiltModel {
  ModulePtr model;
  ConversionReport quantization;
};
// make_model, then --weights (FP32 weights before conversion when their names match the FP32 model,
// else a checkpoint of the same quantized architecture after it), then quantize_model. Seeds the
// default generator with config.seed first so initialisation is reproducible.
BuiltModel build_model(const RunConfig& config, const data::DatasetInfo& dataset);

// Parameter groups: weight decay on the weights, not on BN parameters, biases and quantizer scales
// (no_weight_decay; --wd-all decays every parameter as the seed scripts do); the family's latent
// groups (QuantFamily::latent_groups: DeepShift-PS's `sign` at --lr-sign, `shift`) without decay.
std::vector<ParamGroup> param_groups(const Module& model, const RunConfig& config);
std::unique_ptr<Optimizer> build_optimizer(const Module& model, const RunConfig& config);
std::shared_ptr<LRSchedule> build_schedule(const RunConfig& config);
// The weight of the quantizers' regulariser in the loss (0 when the family has none).
double regularization_weight(const RunConfig& config);

struct Loaders {
  data::LoadedDataset train_set, test_set;
  std::unique_ptr<data::DataLoader> train, test;
};
// The test loader always; the train loader when `train` is set.
Loaders build_loaders(const RunConfig& config, bool train);

}  // namespace sl
