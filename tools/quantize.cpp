// `shiftlab quantize`: applies one quantizer's forward to tensors saved as .npy and writes the
// result, or prints a level set. For teaching and for checking shiftlab against the originals.
#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "engine/factory.h"
#include "engine/npy.h"
#include "quant/apot.h"
#include "quant/deepshift.h"
#include "quant/families.h"
#include "tools/commands.h"

namespace sl::tools {

namespace {

struct QuantizeOptions {
  std::string method;
  int weight_bits = 0;  // 0: the family's default
  int act_bits = 0;     // > 0: quantise as an activation (families with an activation quantizer)
  double alpha = 3.0;
  std::string flavour = "imagenet";
  std::string rounding = "deterministic";
  std::vector<int> fixed{16, 16};
  std::vector<std::string> inputs;
  std::string output;
  bool levels = false;
};

// The families' names ("none" is no quantizer), or those with an activation quantizer.
std::string family_list(bool with_activation = false) {
  std::vector<std::string> names;
  for (const QuantFamily& f : quant_families())
    if (!with_activation || f.activation) names.push_back(f.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

void expect_inputs(const QuantizeOptions& o, size_t n, const char* what) {
  SL_CHECK(o.inputs.size() == n, "quantize --method {}: expected {} --in file(s) ({}), got {}", o.method, n, what,
           o.inputs.size());
}

// The family of --method, or null for the two quantizers that are no family: the 8-bit first/last
// layers (--method apot-8bit) and DeepShift's fixed-point activations (--method fixed).
const QuantFamily* family_of(const QuantizeOptions& o) {
  if (o.method == "apot-8bit" || o.method == "fixed") return nullptr;
  const QuantFamily* f = find_quant_family(o.method);
  SL_CHECK(f, "quantize: unknown method '{}' ({}, apot-8bit, fixed)", o.method, family_list());
  return f;
}

StandaloneOptions standalone_options(const QuantizeOptions& o) {
  StandaloneOptions s;
  s.bits = o.weight_bits;
  s.rounding = o.rounding;
  s.alpha = o.alpha;
  s.flavour = o.flavour;
  return s;
}

// The weight quantizer of --method with its latents set from `in` (one file per latent).
StandaloneQuantizer build(const QuantizeOptions& o, const std::vector<Tensor>& in) {
  const QuantFamily* f = family_of(o);
  if (!f) {  // apot-8bit
    StandaloneQuantizer s;
    s.q = std::make_unique<APoTFirstLast>();
    if (!in.empty()) s.weight = in[0];
    return s;
  }
  SL_CHECK(o.weight_bits >= f->min_bits && o.weight_bits <= f->max_bits,
           "{}: weight bits must be in [{}, {}], got {}", f->name, f->min_bits, f->max_bits, o.weight_bits);
  return f->standalone(standalone_options(o), in);
}

StandaloneActivation build_activation(const QuantizeOptions& o) {
  const QuantFamily* f = family_of(o);
  SL_CHECK(f && f->activation, "quantize --act-bits: {} has no activation quantizer", o.method);
  return f->activation(standalone_options(o), o.act_bits);
}

void print_levels(const QuantizeOptions& o) {
  std::vector<double> levels;
  double scale = 1;
  if (o.act_bits > 0) {
    levels = build_activation(o).levels;
    scale = o.alpha;
  } else {
    StandaloneQuantizer b = build(o, {});
    levels = b.q->levels();
    const QuantFamily* f = family_of(o);
    if (f && f->layer_scale) scale = o.alpha;
  }
  fmt::print("{} {} levels ({}-bit {}{}):\n", levels.size(), o.method, o.act_bits > 0 ? o.act_bits : o.weight_bits,
             o.act_bits > 0 ? "activations" : "weights", scale != 1 ? fmt::format(", times alpha = {}", scale) : "");
  for (double v : levels) fmt::print("{:.10g}\n", v * scale);
}

// The --in files the family takes at these bits.
void check_inputs(const QuantizeOptions& o, size_t given) {
  const QuantFamily* f = family_of(o);
  std::vector<size_t> counts = f ? f->input_counts(o.weight_bits) : std::vector<size_t>{1};
  if (std::find(counts.begin(), counts.end(), given) != counts.end()) return;
  fail("quantize --method {}: expected {} --in file(s) ({}), got {}", o.method, fmt::join(counts, " or "),
       f ? f->inputs : "the weight", given);
}

void run(QuantizeOptions o) {
  const QuantFamily* family = family_of(o);  // validates the method
  if (o.weight_bits == 0) o.weight_bits = family ? family->default_bits : 8;
  if (o.method != "fixed") {  // validates the bits before reading files
    if (o.act_bits > 0) build_activation(o);
    else build(o, {});
  }
  if (o.levels) {
    print_levels(o);
    return;
  }
  SL_CHECK(!o.output.empty(), "quantize: --out is required (or use --levels)");
  SL_CHECK(!o.inputs.empty(), "quantize: at least one --in file is required");
  std::vector<Tensor> in;
  for (const std::string& p : o.inputs) {
    Tensor t = load_npy(p);
    SL_CHECK(t.dtype() == DType::f32, "{}: quantize reads f32 arrays, this one is {}", p, dtype_name(t.dtype()));
    in.push_back(t);
  }
  Tensor out;
  NoGradGuard no_grad;
  if (o.method == "fixed") {
    expect_inputs(o, 1, "the activations");
    SL_CHECK(o.fixed.size() == 2, "quantize --fixed takes two numbers: integer bits and fraction bits");
    out = round_to_fixed(in[0], o.fixed[0], o.fixed[1]);
  } else if (o.act_bits > 0) {
    expect_inputs(o, 1, "the activations");
    out = build_activation(o).q->forward(in[0]);
  } else {
    check_inputs(o, in.size());
    StandaloneQuantizer b = build(o, in);
    out = b.q->effective_weight(b.weight);
  }
  save_npy(o.output, out);
  fmt::print("wrote {} ({} {})\n", o.output, shape_str(out.shape()), dtype_name(out.dtype()));
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  auto* cmd = app.add_subcommand("quantize", "Apply one quantizer's forward to .npy tensors, or print its level set");
  cmd->add_option("--method", o->method, "A quantizer family (" + family_list() +
                                             "), apot-8bit (the 8-bit first/last layers) or fixed (DeepShift's "
                                             "fixed-point activations)")
      ->required();
  cmd->add_option("--weight-bits", o->weight_bits, "Weight bits (default: the family's, " + default_bits_list() + ")")
      ->check(CLI::Range(2, 8));
  cmd->add_option("--act-bits", o->act_bits, "Quantise an activation tensor with this many bits (" + family_list(true) + ")")
      ->check(CLI::Range(2, 8));
  cmd->add_option("--alpha", o->alpha, "APoT clipping threshold")->check(CLI::PositiveNumber);
  cmd->add_option("--flavour", o->flavour, "APoT code flavour: imagenet | cifar")->check(CLI::IsMember({"imagenet", "cifar"}));
  cmd->add_option("--rounding", o->rounding, "DeepShift rounding: deterministic | stochastic")
      ->check(CLI::IsMember({"deterministic", "stochastic"}));
  cmd->add_option("--fixed", o->fixed, "Fixed-point format for --method fixed: INTEGER_BITS FRACTION_BITS")->expected(2);
  cmd->add_option("--in", o->inputs, "Input .npy (f32, C order); latent families take one file per latent, in order");
  cmd->add_option("--out", o->output, "Output .npy");
  cmd->add_flag("--levels", o->levels, "Print the level set and exit");
  cmd->callback([o] { run(*o); });
}

}  // namespace sl::tools
