// `shiftlab bench infer`: the deploy runtime's inference time beside shiftlab's own FP32 eval of the
// same model, with ../shared/bench/torch_ref.py's ids ("<arch>-infer-b<batch>") so compare.py lines
// them up with PyTorch. The deploy time is also written under the "-jit" and "-int8" ids (marked
// "same_as") so one compare.py table shows the ratio to each PyTorch mode; "-shiftlab-fp32" rows
// are the float model. Models come from the registry with random weights, quantised with --quant and
// calibrated on random images: the integer kernels' time does not depend on the values.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "autograd/node.h"
#include "backends/cpu/simd/target.h"
#include "deploy/runtime.h"
#include "engine/factory.h"
#include "engine/threads.h"
#include "export/exporter.h"
#include "layers/flops.h"
#include "layers/models/registry.h"
#include "quant/convert.h"
#include "quant/families.h"
#include "tools/commands.h"
#include "tools/bench_json.h"

namespace sl::tools {

namespace {

struct InferBenchOptions {
  std::vector<std::string> archs{"mnist-conv", "resnet20"};
  std::vector<int64_t> batches;  // empty: torch_ref.py's (mnist-conv 1, 64; resnet20 1, 128)
  std::string quant = "deepshift-ps";
  std::vector<int> threads{0};
  double budget = 2.0;
  bool fp32 = true;
  bool profile = false;
  std::string json;
  // deploy::WinogradMode by name: "on" where it pays (the default), "all" wherever it can, "off" never.
  std::vector<std::string> winograd{"on"};
};

deploy::WinogradMode winograd_mode(const std::string& name) {
  return name == "all" ? deploy::WinogradMode::all : name == "off" ? deploy::WinogradMode::off : deploy::WinogradMode::on;
}

// Puts back the deploy runtime's Winograd mode a variant changed.
struct DeployWinogradScope {
  explicit DeployWinogradScope(deploy::WinogradMode mode) : previous(deploy::set_deploy_winograd(mode)) {}
  ~DeployWinogradScope() { deploy::set_deploy_winograd(previous); }
  DeployWinogradScope(const DeployWinogradScope&) = delete;
  DeployWinogradScope& operator=(const DeployWinogradScope&) = delete;
  deploy::WinogradMode previous;
};

// torch_ref.py names torchvision's ResNets by their own name ("resnet18-infer-b1").
std::string bench_name(const std::string& arch) {
  const std::string prefix = "imagenet-";
  return arch.rfind(prefix, 0) == 0 ? arch.substr(prefix.size()) : arch;
}

std::vector<int64_t> default_batches(const std::string& arch) {
  if (arch.rfind("imagenet-", 0) == 0) return {1};
  if (arch == "mnist-conv") return {1, 64};
  if (arch.rfind("resnet", 0) == 0 || arch.rfind("shiftresnet", 0) == 0) return {1, 128};
  return {1};
}

void bench_arch(const InferBenchOptions& o, const std::string& arch, nlohmann::ordered_json& results) {
  const ModelInfo& info = model_info(arch);
  manual_seed(0);
  ModulePtr model = make_model(arch, info.natural);
  Generator gen(0);
  QuantConfig qc;
  qc.method = o.quant;
  quantize_model(*model, qc, gen);
  const int64_t c = info.natural.in_channels, s = info.natural.image_size;
  Tensor calibration = randn({8, c, s, s}, DType::f32, Device::cpu, 0, 1, &gen);
  ExportResult exported = export_model(*model, calibration);
  deploy::InferenceModel runtime(std::move(exported.graph));
  std::vector<int64_t> batches = o.batches.empty() ? default_batches(arch) : o.batches;
  for (int threads : o.threads) {
    ThreadLimit limit(threads);
    const int used = threads > 0 ? threads : num_threads();
    for (int64_t b : batches) {
      Tensor x = randn({b, c, s, s}, DType::f32, Device::cpu, 0, 1, &gen);
      std::vector<float> images = x.to_vector<float>(), logits(static_cast<size_t>(b * runtime.num_outputs()));
      double macs = 0;
      for (const LayerMacs& l : layer_macs(*model, x.shape())) macs += static_cast<double>(l.macs);
      const double gflop = 2.0 * macs * 1e-9;
      const std::string base_id = fmt::format("{}-infer-b{}", bench_name(arch), b);
      Timing t;  // of the last variant: the FP32 line's ratio
      for (const std::string& winograd : o.winograd) {
        DeployWinogradScope scope(winograd_mode(winograd));
        // Rows of other modes get ids of their own: torch_ref.py's ids are the default runtime's.
        const std::string id = winograd == "on" ? base_id : base_id + (winograd == "off" ? "-direct" : "-winograd-all");
        t = time_calls([&] { runtime.run(images.data(), b, logits.data()); }, 3, 20, o.budget);
        fmt::print("{:<28} {} threads  {:8.3f} ms min  {:8.3f} ms median  {:8.0f} img/s  {:6.1f} GOP/s  deploy{}, {}\n",
                   id, used, t.ms_min, t.ms_median, static_cast<double>(b) / t.ms_median * 1e3,
                   gflop / t.ms_median * 1e3, winograd == "on" ? "" : winograd == "off" ? " (direct 3x3 convs)" : " (Winograd on every 3x3 conv)",
                   cpu::cpu_description());
        if (o.profile) {  // separate profiled runs, so the timing above is not disturbed
          runtime.set_profiling(true);
          const int runs = 20;
          for (int i = 0; i < runs; ++i) runtime.run(images.data(), b, logits.data());
          runtime.set_profiling(false);
          double total = 0;
          const auto ops = runtime.profile();
          for (const auto& op : ops) total += op.second;
          for (const auto& [name, sec] : ops)
            fmt::print("    {:<44} {:8.3f} ms  {:5.1f} %\n", name, sec / runs * 1e3, 100 * sec / total);
        }
        auto r = bench_record(id, used, b, t, gflop);
        r["engine"] = fmt::format("shiftlab deploy (integer kernels{})", winograd == "on"    ? ""
                                                                         : winograd == "off" ? ", direct 3x3 convs"
                                                                                             : ", Winograd on every 3x3 conv");
        r["quant"] = o.quant;
        results.push_back(r);
        if (winograd != "on") continue;
        for (const char* mode : {"-jit", "-int8"}) {
          auto alias = r;
          alias["id"] = id + mode;
          alias["same_as"] = id;
          results.push_back(alias);
        }
      }
      if (!o.fp32) continue;
      model->eval();
      NoGradGuard no_grad;
      Timing f = time_calls([&] { (*model)(x); }, 2, 10, o.budget);
      fmt::print("{:<28} {} threads  {:8.3f} ms min  {:8.3f} ms median  {:8.0f} img/s  shiftlab FP32 eval ({:.2f}x "
                 "slower than deploy)\n",
                 base_id + "-shiftlab-fp32", used, f.ms_min, f.ms_median, static_cast<double>(b) / f.ms_median * 1e3,
                 f.ms_median / t.ms_median);
      auto fr = bench_record(base_id + "-shiftlab-fp32", used, b, f, gflop);
      fr["engine"] = "shiftlab FP32 eval (float-simulated quantizers)";
      results.push_back(fr);
    }
  }
}

void run(const InferBenchOptions& o) {
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const std::string& arch : o.archs) bench_arch(o, arch, results);
  if (!o.json.empty())
    write_bench_json(o.json, std::string("shiftlab ") + SHIFTLAB_VERSION + " deploy", nlohmann::ordered_json::object(),
                     results);
}

}  // namespace

void add_bench_infer_command(CLI::App& bench) {
  auto o = std::make_shared<InferBenchOptions>();
  auto* cmd = bench.add_subcommand("infer", "Time the deploy runtime's inference (ids as torch_ref.py) beside the FP32 eval");
  cmd->add_option("-a,--arch", o->archs, "Models to time (mnist-fc, mnist-conv, resnet20, shiftresnet20, imagenet-resnet18 as resnet18, ...)")
      ->capture_default_str();
  cmd->add_option("-b,--batch-size", o->batches, "Batch sizes (default: torch_ref.py's, 1 and 64 or 128)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--quant", o->quant, "Quantizer family of the timed model")
      ->check(CLI::IsMember(quant_method_names()))
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Thread counts to run, e.g. --threads 1 2 (0 = all cores)");
  cmd->add_option("--budget", o->budget, "Seconds of timed calls per measurement")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("!--no-fp32", o->fp32, "Skip timing shiftlab's FP32 eval of the same model");
  cmd->add_flag("--profile", o->profile, "Also print where the time of a call goes, per op");
  cmd->add_option("--winograd", o->winograd,
                  "Deploy 3x3 stride-1 convs as integer Winograd where it pays (on), wherever it can (all) or never "
                  "(off); `on off` times both")
      ->check(CLI::IsMember({"on", "all", "off"}))
      ->capture_default_str();
  cmd->add_option("--json", o->json, "Write the results in torch_ref.py's JSON schema (for compare.py)");
  cmd->callback([o] { run(*o); });
}

}  // namespace sl::tools
