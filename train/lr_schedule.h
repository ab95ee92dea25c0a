// Learning-rate schedules, stepped once per epoch (or per iteration: the unit is the caller's).
// An LRSchedule is a pure function lr_at(epoch, base_lr) with PyTorch's closed forms; an LRScheduler
// applies one to every parameter group of an optimizer (each group scaled from its own base lr, as
// PyTorch's initial_lr) and keeps the one piece of state a resume needs: the epoch.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"

namespace sl {

class Optimizer;

class LRSchedule {
 public:
  virtual ~LRSchedule() = default;
  virtual double lr_at(int64_t epoch, double base_lr) const = 0;
  virtual std::string describe() const = 0;
};

// base_lr at every epoch.
class ConstantLR : public LRSchedule {
 public:
  double lr_at(int64_t, double base_lr) const override { return base_lr; }
  std::string describe() const override { return "constant"; }
};

// torch StepLR: base_lr * gamma^(epoch / step_size).
class StepLR : public LRSchedule {
 public:
  explicit StepLR(int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t epoch, double base_lr) const override;
  std::string describe() const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// torch MultiStepLR: base_lr * gamma^(number of milestones <= epoch); milestones may repeat.
class MultiStepLR : public LRSchedule {
 public:
  explicit MultiStepLR(std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(int64_t epoch, double base_lr) const override;
  std::string describe() const override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

// torch CosineAnnealingLR, closed form: eta_min + (base_lr - eta_min) (1 + cos(pi epoch / t_max)) / 2.
// Past t_max the closed form is periodic (it rises again), as PyTorch's _get_closed_form_lr.
class CosineAnnealingLR : public LRSchedule {
 public:
  explicit CosineAnnealingLR(int64_t t_max, double eta_min = 0);
  double lr_at(int64_t epoch, double base_lr) const override;
  std::string describe() const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// torch ExponentialLR: base_lr * gamma^epoch.
class ExponentialLR : public LRSchedule {
 public:
  explicit ExponentialLR(double gamma);
  double lr_at(int64_t epoch, double base_lr) const override;
  std::string describe() const override;

 private:
  double gamma_;
};

// Linear warm-up in front of another schedule, as torch SequentialLR([LinearLR(start_factor, 1,
// warmup), inner], milestones=[warmup]): base_lr * (start + (1 - start) * epoch / warmup) for
// epoch < warmup, then inner.lr_at(epoch - warmup) (the inner schedule starts at its epoch 0).
class LinearWarmup : public LRSchedule {
 public:
  LinearWarmup(std::shared_ptr<LRSchedule> inner, int64_t warmup_epochs, double start_factor = 1.0 / 3);
  double lr_at(int64_t epoch, double base_lr) const override;
  std::string describe() const override;

 private:
  std::shared_ptr<LRSchedule> inner_;
  int64_t warmup_;
  double start_;
};

class LRScheduler {
 public:
  // Takes each group's current lr as its base lr and sets the lrs of epoch 0.
  LRScheduler(Optimizer& optimizer, std::shared_ptr<LRSchedule> schedule);
  // Next epoch: epoch() + 1, and the optimizer's lrs set for it.
  void step();
  // Jumps to `epoch` (>= 0) and sets the lrs.
  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  double lr_at(int64_t epoch, size_t group = 0) const;
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  const LRSchedule& schedule() const { return *schedule_; }

  // "scheduler.last_epoch" (i64) and "scheduler.base_lr.<g>" (f64).
  NamedTensors state_dict() const;
  // Restores epoch and base lrs, and sets the optimizer's lrs; throws naming the key when one is
  // missing or the group count differs.
  void load_state_dict(const std::map<std::string, Tensor>& state);

 private:
  void apply();
  Optimizer& optimizer_;
  std::shared_ptr<LRSchedule> schedule_;
  std::vector<double> base_lrs_;
  int64_t epoch_ = 0;
};

}  // namespace sl
