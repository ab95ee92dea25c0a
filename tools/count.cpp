// `shiftlab count`: parameters and FLOPs in the format of shiftresnet-cifar's count.py (first two
// lines, README-era stem term, so the README's figures come out exactly), then the true MAC count,
// and for any zoo model and quantizer family the weight memory in bits and the MACs that become
// shifts (quant/cost.h). docs/count.md documents the output line by line.
#include <fmt/format.h>

#include <memory>

#include "layers/flops.h"
#include "layers/models/registry.h"
#include "layers/models/shiftresnet.h"
#include "quant/cost.h"
#include "quant/families.h"
#include "tools/commands.h"

namespace sl::tools {

namespace {

struct CountOptions {
  std::string arch;
  double expansion = 1;
  double reduction = 1;
  std::string reduction_mode;
  int64_t shift_kernel = 3;
  std::string dataset;  // "" = the model's reference input
  int64_t image_size = 0;
  std::string shortcut;
  std::string quant = "none";
  int weight_bits = 0;
  int64_t quant_depth = -1;
  std::string quant_order = "last";
  std::string first_last = "auto";
  bool per_layer = false;
};

struct DatasetShape {
  const char* name;
  int64_t classes, channels, size;
};
constexpr DatasetShape kDatasets[] = {{"cifar10", 10, 3, 32},
                                      {"cifar100", 100, 3, 32},
                                      {"mnist", 10, 1, 28},
                                      {"fashion-mnist", 10, 1, 28},
                                      {"imagenet", 1000, 3, 224}};

// "%.2f" of a / b, as count.py prints its reduction ratios.
std::string ratio(int64_t a, int64_t b) {
  return b == 0 ? std::string("inf") : fmt::format("{:.2f}", static_cast<double>(a) / static_cast<double>(b));
}

std::string percent(int64_t a, int64_t b) {
  return b == 0 ? std::string("0.00%")
                : fmt::format("{:.2f}%", 100.0 * static_cast<double>(a) / static_cast<double>(b));
}

// The architecture's options that differ from plain, for the Model line.
std::string describe(const std::string& arch, const ModelOptions& m) {
  const ModelInfo& info = model_info(arch);
  std::string s = arch;
  if (info.has_expansion)
    s += fmt::format(" expansion {} (mid = int(out * {})), shift kernel {}", m.expansion, m.expansion, m.shift_kernel);
  if (m.reduction != 1)
    s += fmt::format(" reduction {} ({})", m.reduction, m.reduction_mode.empty() ? "net" : m.reduction_mode);
  if (!m.shortcut.empty()) s += " shortcut " + m.shortcut;
  return s;
}

void print_quant(const QuantCost& c) {
  int64_t quantized = c.layer_count(LayerPrecision::quantized);
  int64_t eight = c.layer_count(LayerPrecision::eight_bit);
  int64_t n = static_cast<int64_t>(c.layers.size());
  int64_t other = c.parameters;  // parameters stored as FP32 (BN, biases, FP32 layers)
  for (const auto& l : c.layers)
    if (l.precision != LayerPrecision::fp32) other -= l.weight_numel;
  if (c.method == "none") {
    fmt::print("Quantization: none (FP32 weights)\n");
    fmt::print("Weight memory: {} bits = {} FP32 parameters x 32\n", c.memory_bits, c.parameters);
    fmt::print("Shifts: 0 of {} MACs (every multiply stays an FP32 multiply; see --quant)\n", c.macs);
    return;
  }
  // Which layers stay unquantized, named from the conversion's own plan.
  int64_t fp32 = c.layer_count(LayerPrecision::fp32);
  std::string ends;
  if (eight > 0) ends += fmt::format("; {} layer(s) at 8 bits", eight);
  if (fp32 > 0) ends += fmt::format("; {} layer(s) in FP32", fp32);
  fmt::print("Quantization: {}, {}-bit weights in {} of {} Conv2d/Linear layers{}\n", c.method, c.bits, quantized, n,
             ends);

  std::string terms = fmt::format("{} quantized weights x {}", c.quantized_weights(), c.bits);
  int64_t eight_weights = 0;
  for (const auto& l : c.layers)
    if (l.precision == LayerPrecision::eight_bit) eight_weights += l.weight_numel;
  if (eight > 0) terms += fmt::format(" + {} weights x 8", eight_weights);
  if (c.scales > 0) terms += fmt::format(" + {} per-layer scales x 32", c.scales);
  terms += fmt::format(" + {} FP32 parameters x 32", other);
  fmt::print("Weight memory: {} bits = {}; FP32: {} bits ({}x smaller)\n", c.memory_bits, terms, c.fp32_bits,
             ratio(c.fp32_bits, c.memory_bits));

  int64_t rest = c.macs - c.shift_macs;
  std::string rest_kind = eight > 0 && fp32 > 0 ? "8-bit and FP32 layers" : eight > 0 ? "8-bit layers" : fp32 > 0 ? "FP32 layers" : "";
  if (c.shift_terms == 0) {
    int64_t low = 0;
    for (const auto& l : c.layers)
      if (l.precision == LayerPrecision::quantized) low += l.macs;
    fmt::print(
        "Shifts: 0 of {} MACs ({} levels are not powers of two: {} MACs become {}-bit integer "
        "multiplies, {} in the other layers)\n",
        c.macs, c.method, low, c.bits, c.macs - low);
    return;
  }
  if (c.shift_terms > 1) {  // sums of powers of two (APoT)
    fmt::print(
        "Shifts: {} of {} MACs ({}) become shift-adds of at most {} shifts each (<= {} shifts); {} stay "
        "multiplies ({})\n",
        c.shift_macs, c.macs, percent(c.shift_macs, c.macs), c.shift_terms, c.shift_macs * c.shift_terms, rest,
        rest_kind);
    return;
  }
  fmt::print("Shifts: {} of {} MACs ({}) become shifts; {} stay multiplies{}\n", c.shift_macs, c.macs,
             percent(c.shift_macs, c.macs), rest, rest_kind.empty() ? "" : " (" + rest_kind + ")");
}

void print_layers(const QuantCost& c) {
  fmt::print("{:<28} {:<8} {:>10} {:>12} {:>5}\n", "layer", "type", "weights", "MACs", "bits");
  for (const auto& l : c.layers)
    fmt::print("{:<28} {:<8} {:>10} {:>12} {:>5}\n", l.name, l.type, l.weight_numel, l.macs, l.bits);
}

void run(const CountOptions& o) {
  const ModelInfo& info = model_info(o.arch);  // throws with the valid names
  ModelOptions m = info.natural;
  std::string data = info.dataset + " (the model's reference input)";
  for (const auto& d : kDatasets)
    if (o.dataset.empty() && d.classes == m.num_classes && d.channels == m.in_channels && d.size == m.image_size &&
        info.dataset == std::string(d.name).substr(0, info.dataset.size()))
      data = std::string(d.name) + ", the model's reference input";
  for (const auto& d : kDatasets)
    if (o.dataset == d.name) {
      m.num_classes = d.classes;
      m.in_channels = d.channels;
      m.image_size = d.size;
      data = d.name;
    }
  if (o.image_size > 0) m.image_size = o.image_size;
  m.expansion = o.expansion;
  m.reduction = o.reduction;
  m.reduction_mode = o.reduction_mode;
  m.shift_kernel = o.shift_kernel;
  m.shortcut = o.shortcut;
  // count.py's ResNets are shiftresnet-cifar's option-B nets: that is count's default for resnetN.
  if (m.shortcut.empty() && info.has_reduction) m.shortcut = "B";
  ModulePtr net = make_model(o.arch, m);
  Shape input{1, m.in_channels, m.image_size, m.image_size};
  std::string input_str = fmt::format("{}", fmt::join(input, "x"));
  int64_t params = net->parameter_count();
  // Computed before anything is printed, so bad --quant / --weight-bits fail without partial output.
  // On a second instance: the conversion modifies the model it counts.
  QuantConfig qc;
  qc.method = o.quant;
  qc.weight_bits = o.weight_bits;
  qc.depth = o.quant_depth;
  qc.order = o.quant_order;
  qc.first_last = o.first_last;
  ModulePtr converted = make_model(o.arch, m);
  QuantCost c = quant_cost(*converted, input, qc);
  int64_t macs = c.macs;

  if (count_py_applies(*net)) {
    // count.py: original = all_models[arch.replace('shift', '')](), the unreduced option-B ResNet.
    std::string base = o.arch.rfind("shift", 0) == 0 ? o.arch.substr(5) : o.arch;
    ModelOptions b = m;
    b.expansion = 1;
    b.reduction = 1;
    b.reduction_mode.clear();
    b.shift_kernel = 3;
    b.shortcut = "B";
    ModulePtr original = make_model(base, b);
    int64_t o_params = original->parameter_count();
    CountPyFlops f = count_py_flops(*net, input), fo = count_py_flops(*original, input);
    int64_t o_macs = count_macs(*original, input);
    fmt::print("Parameters: (new) {} (original) {} (reduction) {}\n", params, o_params, ratio(o_params, params));
    fmt::print("FLOPs: (new) {} (original) {} (reduction) {}\n", f.total(), fo.total(), ratio(fo.total(), f.total()));
    fmt::print("MACs (true): (new) {} (original) {} (reduction) {}\n", macs, o_macs, ratio(o_macs, macs));
    fmt::print("Model: {}; input {} ({}), {} classes; original: {}\n", describe(o.arch, m), input_str, data,
               m.num_classes, describe(base, b));
    fmt::print(
        "Note: count.py's FLOPs are the MACs of the convs and the FC weight with its README-era stem term "
        "{}*{}*9*{} = {}, where the stem's true MACs are {} (HEAD's term: {}); MACs (true) counts every "
        "Conv2d/Linear (docs/count.md)\n",
        f.stem_h, f.stem_w, f.c_last, f.stem, c.layers.front().macs, 3 * f.stem);
  } else {
    fmt::print("Parameters: {}\n", params);
    fmt::print("MACs (true): {}\n", macs);
    fmt::print(
        "Model: {}; input {} ({}), {} classes (count.py's Parameters/FLOPs comparison is defined for "
        "shiftresnet-cifar's option-B ResNets and ShiftResNets only)\n",
        describe(o.arch, m), input_str, data, m.num_classes);
  }
  print_quant(c);
  if (o.per_layer) print_layers(c);
}

}  // namespace

void add_count_command(CLI::App& app) {
  auto o = std::make_shared<CountOptions>();
  auto* cmd = app.add_subcommand(
      "count",
      "Parameters and FLOPs as shiftresnet-cifar's count.py prints them, true MACs, and the weight memory "
      "and shift count under a quantizer family");
  cmd->add_option("--arch", o->arch, "Model name (see docs/models.md)")->required();
  cmd->add_option("--expansion", o->expansion, "ShiftResNet expansion: middle width = int(out * e)");
  cmd->add_option("--reduction", o->reduction, "ResNet reduction r (shiftresnet-cifar's baselines; 1 = none)");
  cmd->add_option("--reduction-mode", o->reduction_mode,
                  "net (all widths / sqrt(r), default) | block (inner widths / r)");
  cmd->add_option("--shift-kernel", o->shift_kernel, "ShiftResNet shift neighbourhood k (odd, default 3)");
  cmd->add_option("--dataset", o->dataset,
                  "Sets classes and input: cifar10 | cifar100 | mnist | fashion-mnist | imagenet "
                  "(default: the model's reference input)")
      ->check(CLI::IsMember({"cifar10", "cifar100", "mnist", "fashion-mnist", "imagenet"}));
  cmd->add_option("--image-size", o->image_size, "Override the input size (e.g. 32 for Fashion-MNIST padded to 32x32)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--shortcut", o->shortcut, "A | B (default for resnetN here: B, count.py's ResNet)");
  cmd->add_option("--quant", o->quant, "Quantizer family: " + quant_method_list())
      ->check(CLI::IsMember(quant_method_names()));
  cmd->add_option("--weight-bits", o->weight_bits, "Weight bits (default: the family's, " + default_bits_list() + ")");
  cmd->add_option("--quant-depth", o->quant_depth, "Quantize only this many layers, counted as training does (-1 = all)");
  cmd->add_option("--quant-order", o->quant_order, "last (DeepShift's code) | first")->check(CLI::IsMember({"last", "first"}));
  cmd->add_option("--first-last", o->first_last, "auto | quantize | fp32 | 8bit")
      ->check(CLI::IsMember({"auto", "quantize", "fp32", "8bit"}));
  cmd->add_flag("--layers", o->per_layer, "Also print every Conv2d/Linear layer with its weights, MACs and bits");
  cmd->callback([o] { run(*o); });
}

}  // namespace sl::tools
