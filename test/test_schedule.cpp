// LR schedules against torch 1.13's schedulers (test/data/schedule, made by gen_schedule.py), the
// scheduler's save / restore, and parameter groups with different base lrs.
#include "layers/linear.h"
#include "train/lr_schedule.h"
#include "train/sgd.h"
#include "zoo_helpers.h"

using namespace sl;
using sl::test::error_of;

namespace {

// The lr of each epoch of a one-group SGD driven by `schedule`, read as the PyTorch loop reads it.
std::vector<double> trace(double base_lr, std::shared_ptr<LRSchedule> schedule, int64_t epochs) {
  Linear lin(2, 1);
  SGD opt(lin.named_parameters(), OptimizerOptions::sgd(base_lr));
  LRScheduler sched(opt, std::move(schedule));
  std::vector<double> out;
  for (int64_t e = 0; e < epochs; ++e) {
    out.push_back(opt.lr());
    CHECK(sched.lr_at(e) == opt.lr());  // the pure function agrees with the stepped state
    sched.step();
  }
  return out;
}

void check_against_torch(const std::string& name, double base_lr, std::shared_ptr<LRSchedule> schedule) {
  INFO(name << ": " << schedule->describe());
  std::vector<double> want = test::load_data("schedule/" + name + ".npy").to_vector<double>();
  std::vector<double> got = trace(base_lr, std::move(schedule), static_cast<int64_t>(want.size()));
  REQUIRE(got.size() == want.size());
  for (size_t e = 0; e < got.size(); ++e) {
    INFO("epoch " << e);
    // torch's recursive forms (cosine) drift from the closed form by rounding only.
    CHECK(got[e] == Approx(want[e]).epsilon(1e-9).margin(1e-15));
  }
}

}  // namespace

TEST_CASE("schedules give torch's learning rates epoch by epoch", "[schedule]") {
  check_against_torch("step_5", 1e-3, std::make_shared<StepLR>(5, 0.1));
  check_against_torch("step_30", 0.1, std::make_shared<StepLR>(30));
  check_against_torch("multistep_deepshift", 0.1,
                      std::make_shared<MultiStepLR>(std::vector<int64_t>{80, 120, 160, 180}));
  check_against_torch("multistep_apot", 0.04, std::make_shared<MultiStepLR>(std::vector<int64_t>{150, 225}, 0.1));
  check_against_torch("cosine_200", 0.1, std::make_shared<CosineAnnealingLR>(200));
  check_against_torch("cosine_eta_min", 0.05, std::make_shared<CosineAnnealingLR>(30, 1e-4));
  check_against_torch("exponential", 0.1, std::make_shared<ExponentialLR>(0.95));
  check_against_torch("warmup_cosine", 0.1,
                      std::make_shared<LinearWarmup>(std::make_shared<CosineAnnealingLR>(45), 5, 0.1));
  check_against_torch(
      "warmup_multistep", 0.4,
      std::make_shared<LinearWarmup>(std::make_shared<MultiStepLR>(std::vector<int64_t>{30, 60, 90}), 2, 0.25));
}

TEST_CASE("closed forms by hand", "[schedule]") {
  MultiStepLR ms({80, 120, 160, 180});
  CHECK(ms.lr_at(79, 0.1) == Approx(0.1));
  CHECK(ms.lr_at(80, 0.1) == Approx(0.01));
  CHECK(ms.lr_at(199, 0.1) == Approx(1e-5));
  CosineAnnealingLR cos(10, 0.001);
  CHECK(cos.lr_at(0, 0.1) == Approx(0.1));
  CHECK(cos.lr_at(5, 0.1) == Approx(0.0505));
  CHECK(cos.lr_at(10, 0.1) == Approx(0.001));
  CHECK(StepLR(3, 0.5).lr_at(7, 1.0) == Approx(0.25));
  CHECK(ConstantLR().lr_at(123, 0.3) == 0.3);
  LinearWarmup w(std::make_shared<ConstantLR>(), 4, 0.2);
  CHECK(w.lr_at(0, 1.0) == Approx(0.2));
  CHECK(w.lr_at(2, 1.0) == Approx(0.6));
  CHECK(w.lr_at(4, 1.0) == Approx(1.0));
  CHECK(LinearWarmup(std::make_shared<StepLR>(2), 0).lr_at(3, 1.0) == Approx(0.1));  // no warm-up
}

TEST_CASE("every parameter group follows the schedule from its own base lr", "[schedule]") {
  Linear lin(2, 1);
  OptimizerOptions w = OptimizerOptions::sgd(0.1), b = OptimizerOptions::sgd(0.02);
  SGD opt(split_param_groups(
      lin.named_parameters(), [](const std::string& n) { return n == "bias"; }, w, b));
  LRScheduler sched(opt, std::make_shared<StepLR>(2, 0.5));
  for (int i = 0; i < 4; ++i) sched.step();
  CHECK(opt.lr(0) == Approx(0.025));
  CHECK(opt.lr(1) == Approx(0.005));
  CHECK(sched.base_lrs() == std::vector<double>{0.1, 0.02});
}

TEST_CASE("scheduler state: save at epoch 37, restore into a fresh scheduler, continue identically", "[schedule]") {
  auto schedule = std::make_shared<LinearWarmup>(std::make_shared<CosineAnnealingLR>(95, 1e-5), 5, 0.1);
  Linear lin(2, 1);
  SGD opt(lin.named_parameters(), OptimizerOptions::sgd(0.1).momentum(0.9));
  LRScheduler sched(opt, schedule);
  for (int e = 0; e < 37; ++e) sched.step();
  NamedTensors saved = sched.state_dict();
  CHECK(test::has_name(saved, "scheduler.last_epoch"));
  CHECK(test::has_name(saved, "scheduler.base_lr.0"));
  double lr37 = opt.lr();

  // A resumed run: the optimizer is rebuilt with the configured lr, then the scheduler state loaded.
  Linear lin2(2, 1);
  SGD opt2(lin2.named_parameters(), OptimizerOptions::sgd(0.1).momentum(0.9));
  LRScheduler sched2(opt2, schedule);
  sched2.load_state_dict(test::to_map(saved));
  CHECK(sched2.epoch() == 37);
  CHECK(opt2.lr() == lr37);
  for (int e = 37; e < 100; ++e) {
    sched.step();
    sched2.step();
    CHECK(opt2.lr() == opt.lr());
  }
  sched2.set_epoch(0);
  CHECK(opt2.lr() == Approx(0.01));

  auto bad = test::to_map(saved);
  bad.erase("scheduler.last_epoch");
  CHECK(error_of([&] { sched2.load_state_dict(bad); }).find("'scheduler.last_epoch' is missing") != std::string::npos);
  bad = test::to_map(saved);
  bad["scheduler.base_lr.1"] = scalar_tensor(0.1, DType::f64);
  CHECK(error_of([&] { sched2.load_state_dict(bad); }).find("2 base lr(s), the optimizer 1 group(s)") !=
        std::string::npos);
}

TEST_CASE("schedule option errors", "[schedule][errors]") {
  CHECK(error_of([] { StepLR s(0); }).find("step_size must be positive") != std::string::npos);
  CHECK(error_of([] { MultiStepLR m({30, 10}); }).find("milestones must be increasing") != std::string::npos);
  CHECK(error_of([] { CosineAnnealingLR c(0); }).find("t_max must be positive") != std::string::npos);
  CHECK(error_of([] { LinearWarmup w(nullptr, 3); }).find("is null") != std::string::npos);
  CHECK(error_of([] { LinearWarmup w(std::make_shared<ConstantLR>(), 3, 0); }).find("start_factor must be in (0, 1]") !=
        std::string::npos);
}
