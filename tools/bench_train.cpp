// `shiftlab bench train`: training steps (forward, backward, SGD momentum 0.9 + weight decay 1e-4
// update) on synthetic data, timed as ../shared/bench/torch_ref.py times PyTorch, with the same
// benchmark ids and FLOP convention (2 x MACs of conv/linear; forward + weight-grad + input-grad,
// no input-grad for the first layer), so `compare.py torch.json shiftlab.json` lines them up.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "backends/backend.h"
#include "backends/cpu/simd/target.h"
#include "backends/cpu/winograd.h"
#include "backends/profiler.h"
#include "engine/factory.h"
#include "engine/threads.h"
#include "layers/flops.h"
#include "layers/models/registry.h"
#include "quant/convert.h"
#include "quant/families.h"
#include "tools/commands.h"
#include "tools/bench_json.h"
#include "train/optimizer.h"

namespace sl::tools {

namespace {

struct TrainBenchOptions {
  std::vector<std::string> archs{"resnet20"};
  double expansion = 1;  // ShiftResNets' middle width int(out * e)
  int64_t batch = 128;
  std::vector<std::string> quant{"none"};
  int weight_bits = 0;        // 0: each family's default
  std::vector<int> act_bits;  // empty: each family's default
  std::vector<int> threads{0};
  double budget = 4.0;
  int rounds = 10;  // with several cases: turns in which each gets budget / rounds seconds
  std::string json;
  std::string device = "cpu";
  bool profile = false;
  std::vector<std::string> fusion{"on"};    // "off": the fused ops run their compositions
  std::vector<std::string> winograd{"on"};  // "off": 3x3 convs take the direct path (CPU)
};

// How the same model is run: fused ops or their compositions, Winograd or direct 3x3 convs.
struct Variant {
  bool fused = true, winograd = true;
};

// torch_ref.py's ids: "<arch>-train-b<batch>", DeepShift-Q with fixed-point activations as
// "<arch>-pow2w-fx-train-b<batch>".
// Non-default bits add "-w<bits>" and "-a<bits>", a ShiftResNet's expansion other than 1 "-e<e>".
std::string bench_id(const TrainBenchOptions& o, const std::string& arch, const std::string& quant, Variant v) {
  std::string q = quant == "none" ? "" : "-" + quant_family(quant).bench_tag;
  if (quant != "none" && o.weight_bits > 0) q += fmt::format("-w{}", o.weight_bits);
  if (quant != "none" && !o.act_bits.empty()) q += fmt::format("-a{}", fmt::join(o.act_bits, "."));
  std::string e = o.expansion != 1 && model_info(arch).has_expansion ? fmt::format("-e{}", o.expansion) : "";
  return fmt::format("{}{}{}-train-b{}{}{}", arch, e, q, o.batch, v.fused ? "" : "-unfused",
                     v.winograd ? "" : "-direct");
}

struct VariantScope {  // puts the previous settings back whatever happens
  explicit VariantScope(Variant v) : fused(v.fused), winograd(v.winograd) {}
  ScopedFusedOps fused;
  cpu::ScopedWinograd winograd;
};

// One measurement: a model, its optimizer and data, and the step that trains them.
struct TrainCase {
  std::string id;
  Variant variant;
  int threads = 0;
  double gflop = 0;
  std::function<void()> step;
  std::vector<double> ms;  // the timed steps, from every round
};

TrainCase prepare(const TrainBenchOptions& o, const std::string& arch, const std::string& quant, Variant v,
                  int threads) {
  VariantScope scope(v);
  Device device = device_from_name(o.device);
  const ModelInfo& info = model_info(arch);
  manual_seed(0);
  ModelOptions mo = info.natural;
  if (info.has_expansion) mo.expansion = o.expansion;
  ModulePtr model = make_model(arch, mo);
  Shape input{o.batch, info.natural.in_channels, info.natural.image_size, info.natural.image_size};
  std::vector<LayerMacs> macs = layer_macs(*model, input);
  double total = 0;
  for (const LayerMacs& l : macs) total += 3.0 * static_cast<double>(l.macs);
  if (!macs.empty()) total -= static_cast<double>(macs.front().macs);  // no input gradient for the first layer
  Generator gen(0);
  QuantConfig qc;
  qc.method = quant;
  if (quant != "none") {
    qc.weight_bits = o.weight_bits;
    qc.act_bits = o.act_bits;
  }
  quantize_model(*model, qc, gen);
  model->to(device);
  model->train();
  std::shared_ptr<Optimizer> opt =
      make_optimizer("sgd", {ParamGroup{model->named_parameters(),
                                        OptimizerOptions::sgd(0.01).momentum(0.9).weight_decay(1e-4)}});
  Tensor x = randn(input, DType::f32, Device::cpu, 0, 1, &gen).to(device);
  std::vector<int32_t> labels(static_cast<size_t>(o.batch));
  for (int64_t i = 0; i < o.batch; ++i) labels[static_cast<size_t>(i)] = static_cast<int32_t>(i % info.natural.num_classes);
  Tensor y = from_vector(labels).to(device);
  TrainCase c;
  c.id = bench_id(o, arch, quant, v);
  c.variant = v;
  c.threads = threads;
  c.gflop = 2.0 * total * 1e-9;
  c.step = [model, opt, x, y, device] {
    opt->zero_grad();
    cross_entropy((*model)(x), y).backward();
    opt->step();
    backend(device).synchronize();
  };
  return c;
}

// The cases timed in turns: each round gives every case a warm-up step (the one before it evicted
// its caches) and budget / rounds seconds of timed steps. A slow spell of a shared machine then falls
// on every case alike, so their ratios hold even when the absolute times drift.
void time_in_rounds(std::vector<TrainCase>& cases, double budget, int rounds) {
  const int min_per_round = (7 + rounds - 1) / rounds;
  for (int r = 0; r < rounds; ++r)
    for (TrainCase& c : cases) {
      ThreadLimit limit(c.threads);
      VariantScope scope(c.variant);
      for (int i = 0; i < (r == 0 ? 3 : 1); ++i) c.step();
      sample_calls(c.step, min_per_round, budget / rounds, c.ms, 1000 * static_cast<size_t>(r + 1) / rounds);
    }
}

nlohmann::ordered_json report(const TrainBenchOptions& o, const TrainCase& c) {
  ThreadLimit limit(c.threads);
  VariantScope scope(c.variant);
  if (o.profile) {  // a separate run of profiled steps, so the timing is not disturbed
    const int steps = 5;
    KernelProfiler::reset();
    KernelProfiler::enable(true);
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) c.step();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    KernelProfiler::enable(false);
    fmt::print("profile of {} steps ({:.1f} ms per step):\n{}", steps, wall / steps * 1e3, KernelProfiler::report(wall));
  }
  const Timing t = summarize(c.ms);
  int used = num_threads();
  fmt::print("{:<32} {} threads  {:8.2f} ms min  {:8.2f} ms median  {:8.0f} img/s  {:6.1f} GFLOP/s  ({})\n", c.id,
             used, t.ms_min, t.ms_median, static_cast<double>(o.batch) / t.ms_median * 1e3,
             c.gflop / t.ms_median * 1e3, o.device == "cpu" ? cpu::cpu_description() : o.device);
  return bench_record(c.id, c.threads > 0 ? c.threads : used, o.batch, t, c.gflop);
}

void run(const TrainBenchOptions& o) {
  bool takes_expansion = false;
  for (const std::string& arch : o.archs) takes_expansion |= model_info(arch).has_expansion;
  SL_CHECK(o.expansion == 1 || takes_expansion,
           "bench train: --expansion {} applies only to the ShiftResNets (shiftresnet20/56/110), none of which is timed",
           o.expansion);
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  auto ratio_line = [](nlohmann::ordered_json& r, const char* key, const nlohmann::ordered_json& base,
                       const std::string& what) {
    r[key] = r["ms_median"].get<double>() / base["ms_median"].get<double>();
    fmt::print("  {:<40} {:5.2f} x the {} step ({:.2f} x faster)\n", r["id"].get<std::string>(), r[key].get<double>(),
               what, 1 / r[key].get<double>());
  };
  std::vector<Variant> variants;
  for (const std::string& fusion : o.fusion)
    for (const std::string& winograd : o.winograd) variants.push_back({fusion == "on", winograd == "on"});
  auto find_variant = [&](Variant v) {
    for (size_t i = 0; i < variants.size(); ++i)
      if (variants[i].fused == v.fused && variants[i].winograd == v.winograd) return i;
    return variants.size();
  };
  for (int threads : o.threads) {
    // Every case of this thread count is timed in the same rounds, so each ratio below compares steps
    // taken side by side; groups[arch][variant][family] index their results.
    std::vector<TrainCase> cases;
    for (const std::string& arch : o.archs)
      for (Variant v : variants)
        for (const std::string& quant : o.quant) cases.push_back(prepare(o, arch, quant, v, threads));
    time_in_rounds(cases, o.budget, cases.size() > 1 ? o.rounds : 1);
    std::vector<std::vector<std::vector<nlohmann::ordered_json>>> groups;
    size_t next = 0;
    for (size_t a = 0; a < o.archs.size(); ++a) {
      groups.emplace_back();
      for (size_t f = 0; f < variants.size(); ++f) {
        groups.back().emplace_back();
        for (size_t q = 0; q < o.quant.size(); ++q) groups.back().back().push_back(report(o, cases[next++]));
      }
    }
    // Each family beside the FP32 step of the same model ("none" listed); each model beside the
    // first model (several -a); the unfused steps beside the fused ones (--fusion on off), the direct
    // 3x3 convs beside Winograd's (--winograd on off).
    for (size_t a = 0; a < groups.size(); ++a)
      for (size_t f = 0; f < groups[a].size(); ++f) {
        std::vector<nlohmann::ordered_json>& group = groups[a][f];
        for (size_t q = 0; q < group.size(); ++q) {
          nlohmann::ordered_json& r = group[q];
          const size_t fp32 = static_cast<size_t>(std::find(o.quant.begin(), o.quant.end(), "none") - o.quant.begin());
          if (fp32 < o.quant.size()) ratio_line(r, "vs_fp32", group[fp32], "FP32");
          if (a > 0) ratio_line(r, "vs_first_model", groups[0][f][q], groups[0][f][q]["id"].get<std::string>());
          const Variant v = variants[f];
          if (const size_t fused = find_variant({true, v.winograd}); !v.fused && fused < variants.size())
            ratio_line(r, "vs_fused", groups[a][fused][q], "fused");
          if (const size_t wino = find_variant({v.fused, true}); !v.winograd && wino < variants.size())
            ratio_line(r, "vs_winograd", groups[a][wino][q], "Winograd");
          results.push_back(r);
        }
      }
  }
  if (!o.json.empty())
    write_bench_json(o.json, std::string("shiftlab ") + SHIFTLAB_VERSION, {{"device", o.device}}, results);
}

}  // namespace

void add_bench_train_command(CLI::App& bench) {
  auto o = std::make_shared<TrainBenchOptions>();
  auto* cmd = bench.add_subcommand("train", "Time training steps of a model on synthetic data (ids as torch_ref.py)");
  cmd->add_option("-a,--arch", o->archs,
                  "Models (each at its natural input size and classes); with several, every step is also given as a "
                  "multiple of the first model's")
      ->expected(1, -1);
  cmd->add_option("--expansion", o->expansion, "ShiftResNets' expansion: middle width int(out * e)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-b,--batch-size", o->batch, "Batch size")->check(CLI::PositiveNumber);
  cmd->add_option("--quant", o->quant,
                  "Quantizer families to time, each on a fresh model (" + quant_method_list() +
                      "); with none among them every family's step is also given as a multiple of FP32's")
      ->check(CLI::IsMember(quant_method_names()));
  cmd->add_option("--weight-bits", o->weight_bits, "Weight bits of the quantized families (0 = each family's default)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--act-bits", o->act_bits, "Activation bits (DeepShift: I F; APoT/uniform: B); default: the family's");
  cmd->add_option("--threads", o->threads, "Thread counts to run, e.g. --threads 1 2 (0 = all cores)");
  cmd->add_option("--budget", o->budget, "Seconds of timed steps per measurement")->check(CLI::PositiveNumber);
  cmd->add_option("--rounds", o->rounds,
                  "With several measurements: time them in this many turns, each taking budget / rounds seconds "
                  "per turn, so a slow spell of the machine falls on all of them alike")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--json", o->json, "Write the results in torch_ref.py's JSON schema (for compare.py)");
  cmd->add_flag("--profile", o->profile, "Also print where the time of a step goes, per kernel");
  cmd->add_option("--fusion", o->fusion,
                  "on: the fused ops (ShiftResNet's shift in its 1x1 conv, batch norm + ReLU, a CIFAR ResNet "
                  "block's batch norm + shortcut + ReLU); off: their compositions; 'on off' times both, the "
                  "unfused steps beside the fused ones")
      ->check(CLI::IsMember({"on", "off"}))
      ->expected(1, 2);
  cmd->add_option("--winograd", o->winograd,
                  "on: 3x3 stride-1 convs by Winograd's F(4x4, 3x3) or F(2x2, 3x3) on the CPU (the default); off: "
                  "the direct convolution; 'on off' times both, the direct steps beside the Winograd ones")
      ->check(CLI::IsMember({"on", "off"}))
      ->expected(1, 2);
  cmd->add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->callback([o] { run(*o); });
}

}  // namespace sl::tools
