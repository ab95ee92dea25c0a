// The training loop of `shiftlab train`: per epoch, train then evaluate; progress lines as the
// PyTorch example; RUN_DIR/config.json, metrics.jsonl (one object per epoch), last.safetensors and
// best.safetensors. A NaN/Inf loss stops the run (the last good checkpoint stays); Ctrl-C finishes
// the current step, saves last.safetensors (resumable mid-epoch) and stops.
//
// Started by mpirun, each process is one rank of a data-parallel run (docs/distributed.md): it
// trains on its share of every global batch, gradients are summed over the ranks before each step,
// and rank 0 alone writes the run directory.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "dist/communicator.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/setup.h"
#include "train/stats.h"

namespace sl {

enum class RunStatus { finished, interrupted };

class Trainer {
 public:
  // Builds data, model (with --weights and quantization), optimizer and schedule; with
  // config.resume, restores the whole state from that checkpoint. `train` = false builds only what
  // evaluation needs (model weights must then come from --weights or --resume).
  Trainer(RunConfig config, bool train);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains the remaining epochs. Writes the run directory; throws sl::Error when the loss diverges.
  RunStatus train();
  // One pass over the test split with the progress lines and the " * Acc@1 .. Acc@5 .." summary;
  // `observe` (when set) sees each batch's images and logits (eval --save-logits).
  PassResult evaluate(const std::function<void(const Tensor& images, const Tensor& logits)>& observe = {});

  Module& model() { return *model_; }
  const Loaders& loaders() const { return loaders_; }
  const RunConfig& config() const { return config_; }
  const std::string& run_dir() const { return run_dir_; }

 private:
  PassResult train_epoch(int64_t epoch, bool& interrupted);
  void save(const std::string& name, const TrainerState& state) const;
  void prepare_run_dir();
  void restore(const Checkpoint& ckpt);
  bool is_writer() const { return comm_->rank() == 0; }
  // Ctrl-C seen by any rank (every rank must call it at the same point).
  bool interrupted_anywhere() const;
  void end_of_epoch_sync(int64_t epoch);

  dist::Communicator* comm_ = nullptr;
  std::unique_ptr<class GradientAllReduce> grad_sync_;

  RunConfig config_;
  std::unique_ptr<struct RunScope> scope_;
  Loaders loaders_;
  ModulePtr model_;
  ConversionReport quantization_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<LRScheduler> scheduler_;
  double reg_weight_ = 0;
  Device device_ = Device::cpu;
  TrainerState state_;
  std::string run_dir_;
  StatsRecorder stats_;
};

}  // namespace sl
