#include "train/trainer.h"

#include <fmt/format.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "backends/backend.h"
#include "backends/cpu/winograd.h"
#include "engine/file_io.h"
#include "engine/threads.h"
#include "layers/batch_norm.h"
#include "train/data_parallel.h"
#include "train/epoch_log.h"
#include "train/progress.h"

namespace sl {

namespace {
std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}
}  // namespace

// Process-wide settings a trainer holds for its lifetime: the thread limit and, when training, the
// Ctrl-C handler (installed before the data loads, so an early Ctrl-C still ends in a checkpoint).
struct RunScope {
  RunScope(int n, bool catch_sigint, bool winograd_on) : limit(n), winograd(winograd_on), sigint(catch_sigint) {
    if (sigint) {
      g_interrupted = false;
      previous = std::signal(SIGINT, on_sigint);
    }
  }
  ~RunScope() {
    if (sigint) std::signal(SIGINT, previous);
  }
  ThreadLimit limit;
  cpu::ScopedWinograd winograd;  // --winograd, put back when the run ends
  bool sigint;
  void (*previous)(int) = SIG_DFL;
};

namespace {

std::string default_run_dir(const RunConfig& c) {
  return fmt::format("runs/{}-{}-seed{}", c.arch, c.quant == "none" ? "fp32" : c.quant, c.seed);
}

void check_finite(double loss, int64_t epoch, int64_t step, const std::string& run_dir) {
  if (std::isfinite(loss)) return;
  std::string last = (std::filesystem::path(run_dir) / "last.safetensors").string();
  fail("the training loss became {} at epoch {}, step {}; stopping. {} Try a lower --lr.", loss, epoch, step,
       std::filesystem::exists(last) ? "The last good checkpoint is kept: " + last + "."
                                     : std::string("No epoch finished, so there is no checkpoint yet."));
}

// --threads 0: all cores, shared by the ranks on this machine.
int thread_budget(int threads, const dist::Communicator& comm) {
  if (threads > 0 || comm.local_size() == 1) return threads;
  return std::max(1, tbb::this_task_arena::max_concurrency() / comm.local_size());
}

}  // namespace

Trainer::Trainer(RunConfig config, bool train) : config_(std::move(config)) {
  validate(config_);
  comm_ = &dist::world();
  check_same_config(*comm_, to_json(config_));
  scope_ = std::make_unique<RunScope>(thread_budget(config_.threads, *comm_), train, config_.winograd != "off");
  device_ = device_from_name(config_.device);
  if (device_ == Device::cuda && comm_->local_size() > 1) select_cuda_device(comm_->local_rank());
  if (device_ != Device::cpu) backend(device_);  // a clear error now if CUDA is unavailable
  // An initial checkpoint (--epochs 0) needs no images (an image folder's are only counted when
  // --data gives one; otherwise --num-classes says what it would).
  bool initial_only = train && config_.resume.empty() && config_.epochs <= config_.start_epoch;
  if (initial_only && !(config_.dataset == "imagefolder" && !config_.data.empty()))
    loaders_.test_set.info = data::dataset_info(config_.dataset);
  else
    loaders_ = build_loaders(config_, train);
  // Image folders: the classes counted go into the run config, so every checkpoint says it.
  if (config_.num_classes == 0 && loaders_.test_set.info.num_classes > 0 && config_.dataset == "imagefolder")
    config_.num_classes = loaders_.test_set.info.num_classes;
  // A resumed run takes its weights from the checkpoint; --weights only initialised the first start.
  RunConfig build_config = config_;
  if (!config_.resume.empty()) build_config.weights.clear();
  BuiltModel built = build_model(build_config, loaders_.test_set.info);
  model_ = built.model;
  quantization_ = built.quantization;
  model_->to(device_);
  if (config_.sync_bn)
    for (auto& [name, module] : model_->named_modules())
      if (auto* bn = dynamic_cast<BatchNormBase*>(module.get())) bn->set_sync(comm_);
  if (train && comm_->size() > 1)  // --sync-bn's backward calls the communicator itself: no overlap
    grad_sync_ = std::make_unique<GradientAllReduce>(*comm_, *model_, int64_t{1} << 22, !config_.sync_bn);
  reg_weight_ = regularization_weight(config_);
  Checkpoint resume;
  if (!config_.resume.empty()) resume = load_checkpoint(config_.resume);
  if (train) {
    optimizer_ = build_optimizer(*model_, config_);
    scheduler_ = std::make_unique<LRScheduler>(*optimizer_, build_schedule(config_));
  }
  if (!config_.resume.empty()) restore(resume);
  else state_.epoch = config_.start_epoch;
}

Trainer::~Trainer() = default;

void Trainer::restore(const Checkpoint& ckpt) {
  load_model_state(*model_, ckpt, config_.resume);
  if (!optimizer_) return;
  SL_CHECK(ckpt.has_trainer_state, "{}: not a training checkpoint (no trainer state); use --weights to start from it",
           config_.resume);
  try {
    optimizer_->load_state_dict(ckpt.optimizer);
    scheduler_->load_state_dict(ckpt.scheduler);
  } catch (const Error& e) {
    fail("{}: {}", config_.resume, e.what());
  }
  state_ = ckpt.trainer;
  // A data-parallel checkpoint holds every rank's generator: it resumes with the same rank count.
  const size_t ranks = std::max<size_t>(1, state_.rank_rng_offsets.size());
  SL_CHECK(ranks == static_cast<size_t>(comm_->size()),
           "{}: this checkpoint was written by a run of {} rank{}; resume it with the same count ({}), not {}",
           config_.resume, ranks, ranks == 1 ? "" : "s",
           ranks == 1 ? "without mpirun" : fmt::format("mpirun -np {}", ranks), comm_->size());
  if (!state_.rank_rng_offsets.empty()) state_.rng_offset = state_.rank_rng_offsets[static_cast<size_t>(comm_->rank())];
  default_generator().set_state(state_.rng_seed, state_.rng_offset);
}

bool Trainer::interrupted_anywhere() const {
  double flag = g_interrupted ? 1 : 0;
  comm_->allreduce_sum(&flag, 1);
  return flag > 0;
}

// The replicas after an epoch: each rank's own batch norm running statistics give way to rank 0's
// (as PyTorch DDP's buffer broadcast; with --sync-bn they are equal already), then every parameter
// and buffer must agree to the bit.
void Trainer::end_of_epoch_sync(int64_t epoch) {
  if (comm_->size() == 1) return;
  if (!config_.sync_bn) broadcast_buffers(*comm_, *model_);
  check_replicas_equal(*comm_, *model_, fmt::format("after epoch {}", epoch));
}

void Trainer::prepare_run_dir() {
  namespace fs = std::filesystem;
  run_dir_ = config_.out.empty() ? default_run_dir(config_) : config_.out;
  if (!is_writer()) {
    comm_->barrier();  // rank 0 has checked and prepared the directory
    return;
  }
  bool resuming_here = !config_.resume.empty() &&
                       fs::weakly_canonical(fs::path(config_.resume).parent_path()) == fs::weakly_canonical(run_dir_);
  const fs::path dir(run_dir_);
  const bool has_checkpoint = fs::exists(dir / "last.safetensors") || fs::exists(dir / "best.safetensors");
  if (fs::exists(dir / "config.json") && !resuming_here) {
    SL_CHECK(!has_checkpoint,
             "run directory '{}' already holds a run; continue it with --resume {}/last.safetensors or choose another "
             "--out", run_dir_, run_dir_);
    // No epoch of that run finished (it failed or was killed before its first checkpoint): nothing
    // saved is lost by starting over in the same directory.
    fmt::print("run directory '{}' holds a run that saved no checkpoint; starting it over\n", run_dir_);
  }
  std::error_code ec;
  fs::create_directories(run_dir_, ec);
  SL_CHECK(!ec, "cannot create run directory '{}': {}", run_dir_, ec.message());
  for (const char* name : {"last.safetensors", "best.safetensors", "config.json", "metrics.jsonl"})
    remove_stale_temp_files((dir / name).string());  // left by a run killed while writing
  // Rows of epochs the checkpoint does not cover (written just before a kill) are run again.
  for (const char* log : {"metrics.jsonl", "stats.jsonl"}) keep_epochs_before((dir / log).string(), state_.epoch);
  std::string text = to_json(config_).dump(2) + "\n";
  write_file_atomic((fs::path(run_dir_) / "config.json").string(), text);
  if (comm_->size() > 1) comm_->barrier();
}

void Trainer::save(const std::string& name, const TrainerState& state) const {
  if (comm_->size() > 1) {  // every rank's generator, gathered by rank 0, which alone writes
    TrainerState all = state;
    all.rank_rng_offsets = all_gather(*comm_, default_generator().offset());
    if (is_writer())
      save_checkpoint((std::filesystem::path(run_dir_) / name).string(), *model_, optimizer_.get(), scheduler_.get(),
                      &all, to_json(config_));
    return;
  }
  save_checkpoint((std::filesystem::path(run_dir_) / name).string(), *model_, optimizer_.get(), scheduler_.get(), &state,
                  to_json(config_));
}

PassResult Trainer::train_epoch(int64_t epoch, bool& interrupted) {
  data::DataLoader& loader = *loaders_.train;
  model_->train();
  StepMeters m;
  // A resumed mid-epoch run continues the running averages it saved.
  int64_t first = epoch == state_.epoch ? state_.batch : 0;
  if (first > 0 && state_.seen > 0) {
    m.loss.update(state_.loss_sum / state_.seen, static_cast<int64_t>(state_.seen));
    m.top1.update(100.0 * state_.correct / state_.seen, static_cast<int64_t>(state_.seen));
  }
  Progress progress(fmt::format("Epoch: [{}]", epoch), loader.batches_per_epoch(), config_.print_freq,
                    stdout_is_terminal());
  loader.start_epoch(epoch, first);
  auto start = std::chrono::steady_clock::now(), tick = start;
  int64_t images = 0, step = first;
  double correct = state_.correct * (first > 0), loss_sum = state_.loss_sum * (first > 0),
         seen = state_.seen * (first > 0);
  const bool distributed = comm_->size() > 1;
  while (auto batch = loader.next()) {
    auto t_data = std::chrono::steady_clock::now();
    optimizer_->zero_grad();
    // This rank's share of the global batch (empty when all its images were unreadable).
    int64_t n = static_cast<int64_t>(batch->indices.size()), c1 = 0, c5 = 0;
    double loss_value = 0;
    Tensor total;
    if (n > 0) {
      Tensor x = batch->images.to(device_), y = batch->labels.to(device_);
      Tensor logits = (*model_)(x);
      Tensor loss = cross_entropy(logits, y, config_.label_smoothing);
      loss_value = loss.item();
      c1 = topk_correct(logits.detach(), y, 1);
      c5 = topk_correct(logits.detach(), y, std::min<int64_t>(5, logits.size(1)));
      total = loss;
      if (reg_weight_ > 0) {
        Tensor reg = quantizer_regularization(*model_);
        if (reg.defined()) total = add(loss, mul(reg, scalar_like(reg_weight_, reg)));
      }
    } else {
      SL_CHECK(!config_.sync_bn, "epoch {}, step {}: rank {} has no readable image in its share of the batch, which "
               "--sync-bn cannot train on", epoch, step, comm_->rank());
    }
    bool stop = false;
    int64_t local_n = n;
    if (distributed) {  // the step's metrics over the global batch, and Ctrl-C on any rank
      double sums[5] = {loss_value * static_cast<double>(n), static_cast<double>(c1), static_cast<double>(c5),
                        static_cast<double>(n), g_interrupted ? 1.0 : 0.0};
      comm_->allreduce_sum(sums, 5);
      n = static_cast<int64_t>(sums[3]);
      loss_value = sums[0] / sums[3];
      c1 = static_cast<int64_t>(sums[1]);
      c5 = static_cast<int64_t>(sums[2]);
      stop = sums[4] > 0;
    }
    check_finite(loss_value, epoch, step, run_dir_);
    // The gradient of the global batch's mean loss: each rank's weighted by its share (summed while
    // backward runs when the all-reduce overlaps it).
    const double share = static_cast<double>(local_n) / static_cast<double>(n);
    const bool overlap = distributed && grad_sync_->overlaps();
    if (overlap) grad_sync_->begin(share);
    if (total.defined()) total.backward();
    if (overlap) grad_sync_->finish();
    else if (distributed) grad_sync_->run(share);
    optimizer_->step();
    auto now = std::chrono::steady_clock::now();
    m.data_time.update(std::chrono::duration<double>(t_data - tick).count());
    m.batch_time.update(std::chrono::duration<double>(now - tick).count());
    m.loss.update(loss_value, n);
    m.top1.update(100.0 * static_cast<double>(c1) / static_cast<double>(n), n);
    m.top5.update(100.0 * static_cast<double>(c5) / static_cast<double>(n), n);
    tick = now;
    images += n;
    loss_sum += loss_value * static_cast<double>(n);
    correct += static_cast<double>(c1);
    seen += static_cast<double>(n);
    ++step;
    progress.update(step, m);
    if (distributed ? stop : g_interrupted.load()) {
      TrainerState s = state_;
      s.epoch = epoch;
      s.batch = step;
      s.loss_sum = loss_sum;
      s.correct = correct;
      s.seen = seen;
      s.rng_seed = default_generator().seed();
      s.rng_offset = default_generator().offset();
      save("last.safetensors", s);
      interrupted = true;
      fmt::print("\nInterrupted at epoch {}, step {}: saved {}/last.safetensors (continue with --resume)\n", epoch, step,
                 run_dir_);
      break;
    }
  }
  PassResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.images = images;
  r.loss = seen > 0 ? loss_sum / seen : 0;
  r.acc1 = seen > 0 ? 100.0 * correct / seen : 0;
  return r;
}

PassResult Trainer::evaluate(const std::function<void(const Tensor&, const Tensor&)>& observe) {
  model_->eval();
  NoGradGuard no_grad;
  return evaluate_loader(
      *loaders_.test,
      [&](const Tensor& x) {
        Tensor logits = (*model_)(x.to(device_));
        if (observe) observe(x, logits);
        return logits;
      },
      config_.print_freq, comm_);
}

RunStatus Trainer::train() {
  SL_CHECK(optimizer_, "Trainer: built for evaluation only");
  prepare_run_dir();
  if (state_.epoch >= config_.epochs) {  // --epochs 0 (or --start-epoch past it): the initial model only
    save("last.safetensors", state_);
    fmt::print("model {}: {} parameters; quantization: {}\n--epochs {}: wrote the initial model to {}\n", config_.arch,
               model_->parameter_count(), quantization_.summary(), config_.epochs,
               (std::filesystem::path(run_dir_) / "last.safetensors").string());
    return RunStatus::finished;
  }
  fmt::print("{}\n{}\nmodel {}: {} parameters; quantization: {}\n", loaders_.train_set.dataset->describe(),
             loaders_.test_set.dataset->describe(), config_.arch, model_->parameter_count(), quantization_.summary());
  if (comm_->size() > 1)
    fmt::print("data-parallel: {}; global batch {} ({} per rank), {} threads per rank, batch norm {}{}\n",
               comm_->describe(), config_.batch_size, config_.batch_size / comm_->size(), num_threads(),
               config_.sync_bn ? "synchronised (--sync-bn)" : "per rank",
               grad_sync_ ? "; gradients summed " + grad_sync_->describe() : "");
  std::fflush(stdout);
  std::string metrics_path = (std::filesystem::path(run_dir_) / "metrics.jsonl").string();
  std::string stats_path = (std::filesystem::path(run_dir_) / "stats.jsonl").string();
  const bool record_stats = !config_.no_stats && is_writer();
  if (record_stats) stats_.snapshot(*model_);  // sign flips of the first epoch count from here
  for (int64_t epoch = state_.epoch; epoch < config_.epochs; ++epoch) {
    scheduler_->set_epoch(epoch);
    double lr = optimizer_->lr(0);
    bool interrupted = false;
    const double sync_seconds = grad_sync_ ? grad_sync_->seconds() : 0;
    const int64_t sync_calls = grad_sync_ ? grad_sync_->calls() : 0;
    PassResult tr = train_epoch(epoch, interrupted);
    if (interrupted) return RunStatus::interrupted;
    end_of_epoch_sync(epoch);
    // Recorded before evaluation, while the gradients of the epoch's last step are still there.
    double stats_seconds = 0;
    if (record_stats) {
      auto t0 = std::chrono::steady_clock::now();
      append_jsonl(stats_path, stats_.record(*model_, epoch));
      stats_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    PassResult te = evaluate();
    bool best = te.acc1 > state_.best_acc1;
    state_.best_acc1 = std::max(state_.best_acc1, te.acc1);
    state_.epoch = epoch + 1;
    state_.batch = 0;
    state_.loss_sum = state_.correct = state_.seen = 0;
    state_.rng_seed = default_generator().seed();
    state_.rng_offset = default_generator().offset();
    double seconds = tr.seconds + te.seconds;
    nlohmann::ordered_json row = {{"epoch", epoch},          {"lr", lr},
                                  {"train_loss", tr.loss},   {"train_acc1", tr.acc1},
                                  {"test_loss", te.loss},    {"test_acc1", te.acc1},
                                  {"test_acc5", te.acc5},    {"best_acc1", state_.best_acc1},
                                  {"seconds", seconds},      {"images_per_s", tr.seconds > 0 ? tr.images / tr.seconds : 0}};
    if (record_stats) row["stats_seconds"] = stats_seconds;
    if (grad_sync_ && grad_sync_->calls() > sync_calls)  // rank 0's gradient all-reduce time per step
      row["allreduce_ms_per_step"] =
          1000 * (grad_sync_->seconds() - sync_seconds) / static_cast<double>(grad_sync_->calls() - sync_calls);
    if (is_writer()) {
      std::ofstream log(metrics_path, std::ios::app);
      log << row.dump() << "\n";
      log.flush();
      SL_CHECK(log.good(), "cannot append to '{}' (disk full or read-only?)", metrics_path);
    }
    save("last.safetensors", state_);
    if (best) save("best.safetensors", state_);
    fmt::print("Epoch {}: train loss {:.4f} acc@1 {:.2f} | test loss {:.4f} acc@1 {:.2f} acc@5 {:.2f} | lr {:.4g} | "
               "{:.1f} s, {:.0f} img/s{}\n",
               epoch, tr.loss, tr.acc1, te.loss, te.acc1, te.acc5, lr, seconds, tr.seconds > 0 ? tr.images / tr.seconds : 0,
               config_.no_stats ? std::string()
                                : fmt::format(" | stats {:.1f} ms ({:.2f}% of the training pass)", 1000 * stats_seconds,
                                              tr.seconds > 0 ? 100 * stats_seconds / tr.seconds : 0));
    std::fflush(stdout);
    if (comm_->size() > 1 ? interrupted_anywhere() : g_interrupted.load()) return RunStatus::interrupted;
  }
  return RunStatus::finished;
}

}  // namespace sl
