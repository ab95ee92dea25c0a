// Training checkpoints as safetensors. Model parameters and buffers keep their PyTorch names (so a
// torchvision/PyTorch model loads them by name); the rest is prefixed: `optimizer.*`,
// `scheduler.*`, `trainer.*` (epoch, batch within the epoch, best accuracy, RNG state, running
// train averages). The resolved run config is the metadata key "config" (JSON text).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "layers/module.h"

namespace sl {

class Optimizer;
class LRScheduler;

struct TrainerState {
  int64_t epoch = 0;         // the epoch to run next (all earlier ones are complete)...
  int64_t batch = 0;         // ...starting at this batch (> 0 after an interruption mid-epoch)
  double best_acc1 = -1;     // best test top-1 so far (-1: none yet)
  uint64_t rng_seed = 0, rng_offset = 0;  // the default generator (dropout, stochastic rounding)
  // Running sums of the interrupted epoch's training metrics (loss * n, correct, n).
  double loss_sum = 0, correct = 0, seen = 0;
  // Data-parallel runs: the generator offset of every rank, in rank order (empty for one process);
  // its length is the rank count a resumed run must have.
  std::vector<uint64_t> rank_rng_offsets;
};

struct Checkpoint {
  std::map<std::string, Tensor> model;      // un-prefixed tensors
  std::map<std::string, Tensor> optimizer;  // "optimizer.*"
  std::map<std::string, Tensor> scheduler;  // "scheduler.*"
  TrainerState trainer;
  bool has_trainer_state = false;
  nlohmann::json config = nlohmann::json::object();  // the run config (an object; empty if absent)
  Metadata metadata;
};

// Writes atomically (temp file + fsync + rename): an existing checkpoint is replaced only by a
// complete new one. Without optimizer/scheduler/state it holds the model only (a --weights file).
void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const LRScheduler* scheduler, const TrainerState* state, const nlohmann::json& config);
// Throws naming the file on a missing, truncated or corrupt file (see load_safetensors) or a bad
// config metadata entry.
Checkpoint load_checkpoint(const std::string& path);
// Loads the model tensors of `ckpt` into `model`: every model tensor must be present with the same
// shape and dtype, and the checkpoint must not have model tensors the model lacks. Errors name the
// file and every missing, unexpected or misshapen tensor.
void load_model_state(Module& model, const Checkpoint& ckpt, const std::string& path);

}  // namespace sl
