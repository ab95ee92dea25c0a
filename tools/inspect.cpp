// `shiftlab inspect CKPT`: what a trained shift network's weights look like. Per quantized layer:
// the histogram of the levels used, the fraction of zeros, the exponent range of the shift families,
// and APoT's learned clipping thresholds (as its show_params).
#include <fmt/format.h>

#include <cmath>
#include <map>

#include "data/registry.h"
#include "layers/weight_layer.h"
#include "quant/apot.h"
#include "quant/families.h"
#include "quant/quantizer.h"
#include "tools/commands.h"
#include "tools/run_options.h"
#include "train/checkpoint.h"
#include "train/setup.h"

namespace sl::tools {

namespace {

// A level in units of the layer's scale: a power of two as 2^e (what a shift network stores),
// anything else (APoT's sums, uniform's steps) as a number.
std::string level_str(double v) {
  if (v == 0) return "0";
  double e = std::log2(std::abs(v));
  if (e == std::floor(e) && std::abs(e) < 1024)
    return fmt::format("{}2^{}", v < 0 ? "-" : "", static_cast<int>(e));
  return fmt::format("{:.6g}", v);
}

// Tables longer than this show their first and last kFoldKeep rows (--full: all).
constexpr size_t kFoldAbove = 16, kFoldKeep = 6;

void print_layer(const std::string& name, WeightLayer& layer, WeightQuantizer& q, bool full) {
  ExportedCodes codes = q.export_codes(layer.weight());
  std::vector<int8_t> sign = codes.sign.to_vector<int8_t>();
  std::vector<int32_t> index = codes.index.to_vector<int32_t>();
  std::map<double, int64_t> histogram;  // level value (units of scale) -> count
  int64_t zeros = 0;
  for (size_t i = 0; i < sign.size(); ++i) {
    double v = sign[i] * codes.magnitudes[static_cast<size_t>(index[i])];
    zeros += v == 0;
    ++histogram[v];
  }
  double n = static_cast<double>(sign.size());
  fmt::print("{} ({}, {}-bit, {} weights{}): {} of {} levels used, zeros {:.2f}%\n", name, q.method(), q.bits(),
             sign.size(), codes.scale != 1 ? fmt::format(", scale {:.6g}", codes.scale) : "", histogram.size(),
             q.levels().size(), 100.0 * static_cast<double>(zeros) / n);
  const QuantFamily* family = find_quant_family(q.method());  // null for the 8-bit first/last layers
  bool shift = family && family->power_of_two_levels;
  if (shift) {
    int lo = 1000, hi = -1000;
    for (auto& [v, count] : histogram)
      if (v != 0) {
        int e = static_cast<int>(std::lround(std::log2(std::abs(v))));
        lo = std::min(lo, e);
        hi = std::max(hi, e);
      }
    if (lo <= hi) fmt::print("  exponents used: {} .. {}\n", lo, hi);
  }
  bool fold = !full && histogram.size() > kFoldAbove;
  size_t row = 0, folded = 0;
  int64_t folded_count = 0;
  for (auto& [v, count] : histogram) {
    bool shown = !fold || row < kFoldKeep || row >= histogram.size() - kFoldKeep;
    ++row;
    if (!shown) {
      ++folded;
      folded_count += count;
      if (row == histogram.size() - kFoldKeep)
        fmt::print("  {:>12} {:>9} {:6.2f}% ({} more levels; --full shows all)\n", "...", folded_count,
                   100.0 * static_cast<double>(folded_count) / n, folded);
      continue;
    }
    int bar = static_cast<int>(std::lround(40.0 * static_cast<double>(count) / n));
    fmt::print("  {:>12} {:>9} {:6.2f}% {}\n", level_str(v), count, 100.0 * static_cast<double>(count) / n,
               std::string(static_cast<size_t>(bar), '#'));
  }
  if (auto* apot = dynamic_cast<APoTWeight*>(&q)) {
    auto act = std::dynamic_pointer_cast<APoTActivation>(layer.input_quantizer());
    fmt::print("  clipping threshold weight alpha: {:2f}, activation alpha: {}\n", std::round(apot->alpha().item() * 1000) / 1000,
               act ? fmt::format("{:2f}", std::round(act->alpha().item() * 1000) / 1000) : "none");
  }
}

void run_inspect(const CliState& st, const std::string& checkpoint, bool full) {
  RunConfig c = resolve(st, "weights", checkpoint);
  BuiltModel b = build_model(c, data::dataset_info(c.dataset));
  fmt::print("{}: {} on {}, quantization: {}\n", checkpoint, c.arch, c.dataset, b.quantization.summary());
  int64_t shown = 0;
  for (auto& [name, m] : b.model->named_modules()) {
    auto layer = std::dynamic_pointer_cast<WeightLayer>(m);
    if (!layer) continue;
    auto q = std::dynamic_pointer_cast<WeightQuantizer>(layer->weight_parametrization());
    if (!q) continue;
    try {
      print_layer(name, *layer, *q, full);
    } catch (const Error& e) {
      fail("{}: layer '{}': {}", checkpoint, name, e.what());
    }
    ++shown;
  }
  if (shown == 0) fmt::print("no quantized layer (an FP32 model)\n");
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto st = std::make_shared<CliState>();
  auto checkpoint = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("inspect", "Show the levels, zeros and clipping thresholds of a checkpoint's shift layers");
  auto full = std::make_shared<bool>(false);
  cmd->add_option("checkpoint", *checkpoint, "The checkpoint (.safetensors)")->required();
  add_run_options(cmd, *st, inspect_keys());
  cmd->add_flag("--full", *full, "Show every level of long tables (default: the first and last 6)");
  cmd->callback([st, checkpoint, full] { run_inspect(*st, *checkpoint, *full); });
}

}  // namespace sl::tools
