// LR schedules (closed forms of torch.optim.lr_scheduler) and the per-optimizer driver.
#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "engine/factory.h"
#include "train/optimizer.h"

namespace sl {

StepLR::StepLR(int64_t step_size, double gamma) : step_size_(step_size), gamma_(gamma) {
  SL_CHECK(step_size > 0, "StepLR: step_size must be positive, got {}", step_size);
  SL_CHECK(gamma > 0, "StepLR: gamma must be positive, got {}", gamma);
}

double StepLR::lr_at(int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(std::max<int64_t>(epoch, 0) / step_size_));
}

std::string StepLR::describe() const { return fmt::format("step(step_size={}, gamma={})", step_size_, gamma_); }

MultiStepLR::MultiStepLR(std::vector<int64_t> milestones, double gamma)
    : milestones_(std::move(milestones)), gamma_(gamma) {
  SL_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()), "MultiStepLR: milestones must be increasing, got {}",
           milestones_);
  SL_CHECK(gamma > 0, "MultiStepLR: gamma must be positive, got {}", gamma);
}

double MultiStepLR::lr_at(int64_t epoch, double base_lr) const {
  auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  return base_lr * std::pow(gamma_, static_cast<double>(passed));
}

std::string MultiStepLR::describe() const {
  return fmt::format("multistep(milestones={}, gamma={})", milestones_, gamma_);
}

CosineAnnealingLR::CosineAnnealingLR(int64_t t_max, double eta_min) : t_max_(t_max), eta_min_(eta_min) {
  SL_CHECK(t_max > 0, "CosineAnnealingLR: t_max must be positive, got {}", t_max);
}

double CosineAnnealingLR::lr_at(int64_t epoch, double base_lr) const {
  const double pi = std::acos(-1.0);
  return eta_min_ +
         (base_lr - eta_min_) * (1 + std::cos(pi * static_cast<double>(epoch) / static_cast<double>(t_max_))) / 2;
}

std::string CosineAnnealingLR::describe() const {
  return fmt::format("cosine(t_max={}, eta_min={})", t_max_, eta_min_);
}

ExponentialLR::ExponentialLR(double gamma) : gamma_(gamma) {
  SL_CHECK(gamma > 0, "ExponentialLR: gamma must be positive, got {}", gamma);
}

double ExponentialLR::lr_at(int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch));
}

std::string ExponentialLR::describe() const { return fmt::format("exponential(gamma={})", gamma_); }

LinearWarmup::LinearWarmup(std::shared_ptr<LRSchedule> inner, int64_t warmup_epochs, double start_factor)
    : inner_(std::move(inner)), warmup_(warmup_epochs), start_(start_factor) {
  SL_CHECK(inner_ != nullptr, "LinearWarmup: the schedule after the warm-up is null");
  SL_CHECK(warmup_epochs >= 0, "LinearWarmup: warmup_epochs must be >= 0, got {}", warmup_epochs);
  SL_CHECK(start_factor > 0 && start_factor <= 1, "LinearWarmup: start_factor must be in (0, 1], got {}", start_factor);
}

double LinearWarmup::lr_at(int64_t epoch, double base_lr) const {
  if (epoch >= warmup_) return inner_->lr_at(epoch - warmup_, base_lr);
  return base_lr * (start_ + (1 - start_) * static_cast<double>(epoch) / static_cast<double>(warmup_));
}

std::string LinearWarmup::describe() const {
  return fmt::format("warmup(epochs={}, start_factor={}) then {}", warmup_, start_, inner_->describe());
}

LRScheduler::LRScheduler(Optimizer& optimizer, std::shared_ptr<LRSchedule> schedule)
    : optimizer_(optimizer), schedule_(std::move(schedule)) {
  SL_CHECK(schedule_ != nullptr, "LRScheduler: the schedule is null");
  for (size_t g = 0; g < optimizer_.num_groups(); ++g) base_lrs_.push_back(optimizer_.lr(g));
  apply();
}

void LRScheduler::apply() {
  for (size_t g = 0; g < base_lrs_.size(); ++g) optimizer_.set_lr(g, schedule_->lr_at(epoch_, base_lrs_[g]));
}

void LRScheduler::step() {
  ++epoch_;
  apply();
}

void LRScheduler::set_epoch(int64_t epoch) {
  SL_CHECK(epoch >= 0, "LRScheduler: epoch must be >= 0, got {}", epoch);
  epoch_ = epoch;
  apply();
}

double LRScheduler::lr_at(int64_t epoch, size_t group) const {
  SL_CHECK(group < base_lrs_.size(), "LRScheduler: group {} is out of range ({} groups)", group, base_lrs_.size());
  return schedule_->lr_at(epoch, base_lrs_[group]);
}

NamedTensors LRScheduler::state_dict() const {
  NamedTensors out;
  out.emplace_back("scheduler.last_epoch", scalar_tensor(static_cast<double>(epoch_), DType::i64));
  for (size_t g = 0; g < base_lrs_.size(); ++g)
    out.emplace_back("scheduler.base_lr." + std::to_string(g), scalar_tensor(base_lrs_[g], DType::f64));
  return out;
}

void LRScheduler::load_state_dict(const std::map<std::string, Tensor>& state) {
  auto get = [&](const std::string& key) -> double {
    auto it = state.find(key);
    SL_CHECK(it != state.end(), "LRScheduler.load_state_dict: '{}' is missing", key);
    SL_CHECK(it->second.numel() == 1, "LRScheduler.load_state_dict: '{}' must hold one value, got shape {}", key,
             shape_str(it->second.shape()));
    return it->second.item();
  };
  size_t saved_groups = 0;
  for (const auto& kv : state)
    if (kv.first.compare(0, 18, "scheduler.base_lr.") == 0) ++saved_groups;
  SL_CHECK(saved_groups == base_lrs_.size(),
           "LRScheduler.load_state_dict: the state has {} base lr(s), the optimizer {} group(s)", saved_groups,
           base_lrs_.size());
  std::vector<double> lrs;
  for (size_t g = 0; g < base_lrs_.size(); ++g) lrs.push_back(get("scheduler.base_lr." + std::to_string(g)));
  auto epoch = static_cast<int64_t>(get("scheduler.last_epoch"));
  SL_CHECK(epoch >= 0, "LRScheduler.load_state_dict: scheduler.last_epoch is negative ({})", epoch);
  base_lrs_ = lrs;
  epoch_ = epoch;
  apply();
}

}  // namespace sl
