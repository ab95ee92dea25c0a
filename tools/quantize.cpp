// `shiftlab quantize`: applies one quantizer's forward to tensors saved as .npy and writes the
// result, or prints a level set. For teaching and for checking shiftlab against the originals.
#include <fmt/format.h>

#include <memory>

#include "engine/factory.h"
#include "engine/npy.h"
#include "quant/apot.h"
#include "quant/deepshift.h"
#include "quant/denseshift.h"
#include "quant/s3.h"
#include "tools/commands.h"

namespace sl::tools {

namespace {

struct QuantizeOptions {
  std::string method;
  int weight_bits = 0;  // 0: the method's default (DeepShift 5, APoT/uniform 4, S3/DenseShift 3)
  int act_bits = 0;  // > 0: quantise as an activation (apot/uniform)
  double alpha = 3.0;
  std::string flavour = "imagenet";
  std::string rounding = "deterministic";
  std::vector<int> fixed{16, 16};
  std::vector<std::string> inputs;
  std::string output;
  bool levels = false;
};

// A quantizer of the family with its latent tensors set from `in` (one file per latent).
struct Built {
  std::unique_ptr<WeightQuantizer> q;
  Tensor weight;  // the layer weight the quantizer reads (undefined for PS)
};

void expect_inputs(const QuantizeOptions& o, size_t n, const char* what) {
  SL_CHECK(o.inputs.size() == n, "quantize --method {}: expected {} --in file(s) ({}), got {}", o.method, n, what,
           o.inputs.size());
}

Built build(const QuantizeOptions& o, const std::vector<Tensor>& in) {
  Built b;
  Generator gen(0);
  const std::string& m = o.method;
  if (m == "deepshift-q") {
    b.q = std::make_unique<DeepShiftQ>(o.weight_bits, rounding_from_name(o.rounding), false);
    if (!in.empty()) b.weight = in[0];
  } else if (m == "deepshift-ps") {
    auto ps = std::make_unique<DeepShiftPS>(in.empty() ? zeros({1}) : in[0], o.weight_bits, rounding_from_name(o.rounding), false);
    if (in.size() == 2) {  // explicit shift and sign parameters
      copy_data(ps->shift(), in[0]);
      copy_data(ps->sign(), in[1]);
    }
    b.q = std::move(ps);
  } else if (m == "apot" || m == "uniform") {
    APoTOptions a;
    a.bits = o.weight_bits;
    a.power = m == "apot";
    a.alpha = o.alpha;
    a.flavour = apot_flavour_from_name(o.flavour);
    b.q = std::make_unique<APoTWeight>(a);
    if (!in.empty()) b.weight = in[0];
  } else if (m == "apot-8bit") {
    b.q = std::make_unique<APoTFirstLast>();
    if (!in.empty()) b.weight = in[0];
  } else if (m == "s3") {
    b.weight = in.empty() ? zeros({1, 1}) : in[0].clone();
    auto s3 = std::make_unique<S3Weight>(b.weight, o.weight_bits, S3Init::he, gen);
    if (!in.empty()) {
      copy_data(b.weight, in[0]);
      copy_data(s3->sparse(), in[1]);
      for (size_t i = 0; i < s3->shifts().size(); ++i) copy_data(s3->shifts()[i], in[i + 2]);
    }
    b.q = std::move(s3);
  } else if (m == "denseshift") {
    b.weight = in.empty() ? zeros({1}) : in[0].clone();
    auto ds = std::make_unique<DenseShiftWeight>(b.weight, o.weight_bits, gen);
    if (!in.empty()) {
      copy_data(b.weight, in[0]);
      for (size_t i = 0; i < ds->gates().size(); ++i) copy_data(ds->gates()[i], in[i + 1]);
    }
    b.q = std::move(ds);
  } else {
    fail("quantize: unknown method '{}' (deepshift-q, deepshift-ps, apot, uniform, apot-8bit, s3, denseshift, fixed)", m);
  }
  return b;
}

size_t inputs_needed(const QuantizeOptions& o) {
  if (o.method == "s3") return static_cast<size_t>(2 + (1 << (o.weight_bits - 1)) - 2);
  if (o.method == "denseshift") return static_cast<size_t>(1 + (1 << (o.weight_bits - 1)) - 1);
  return 1;
}

void print_levels(const QuantizeOptions& o) {
  std::vector<double> levels;
  double scale = 1;
  if (o.act_bits > 0) {
    SL_CHECK(o.method == "apot" || o.method == "uniform", "quantize --act-bits: only apot and uniform quantise activations");
    if (o.method == "apot") {
      levels = apot_levels(o.act_bits).levels;
    } else {
      int64_t n = (int64_t{1} << o.act_bits) - 1;
      for (int64_t k = 0; k <= n; ++k) levels.push_back(static_cast<double>(k) / static_cast<double>(n));
    }
    scale = o.alpha;
  } else {
    Built b = build(o, {});
    levels = b.q->levels();
    if (o.method == "apot" || o.method == "uniform") scale = o.alpha;
  }
  fmt::print("{} {} levels ({}-bit {}{}):\n", levels.size(), o.method, o.act_bits > 0 ? o.act_bits : o.weight_bits,
             o.act_bits > 0 ? "activations" : "weights", scale != 1 ? fmt::format(", times alpha = {}", scale) : "");
  for (double v : levels) fmt::print("{:.10g}\n", v * scale);
}

int default_bits(const std::string& method) {
  if (method == "apot" || method == "uniform") return 4;
  if (method == "s3" || method == "denseshift") return 3;
  return 5;
}

void run(QuantizeOptions o) {
  if (o.weight_bits == 0) o.weight_bits = default_bits(o.method);
  if (o.method != "fixed") build(o, {});  // validates the method and its bit width before reading files
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
    SL_CHECK(o.method == "apot" || o.method == "uniform", "quantize --act-bits: only apot and uniform quantise activations");
    APoTOptions a;
    a.bits = o.act_bits;
    a.power = o.method == "apot";
    a.alpha = o.alpha;
    a.flavour = apot_flavour_from_name(o.flavour);
    out = APoTActivation(a)(in[0]);
  } else {
    if (o.method == "deepshift-ps") {
      SL_CHECK(in.size() == 1 || in.size() == 2,
               "quantize --method deepshift-ps: give one FP32 weight, or the shift and sign parameters (2 files)");
    } else {
      expect_inputs(o, inputs_needed(o), o.method == "s3" ? "sign, sparse, shift1.. latents" :
                                         o.method == "denseshift" ? "sign, gate1.. latents" : "the weight");
    }
    Built b = build(o, in);
    out = b.q->effective_weight(b.weight);
  }
  save_npy(o.output, out);
  fmt::print("wrote {} ({} {})\n", o.output, shape_str(out.shape()), dtype_name(out.dtype()));
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  auto* cmd = app.add_subcommand("quantize", "Apply one quantizer's forward to .npy tensors, or print its level set");
  cmd->add_option("--method", o->method, "deepshift-q | deepshift-ps | apot | uniform | apot-8bit | s3 | denseshift | fixed")
      ->required();
  cmd->add_option("--weight-bits", o->weight_bits, "Weight bits (default: 5 DeepShift, 4 APoT/uniform, 3 S3/DenseShift)")->check(CLI::Range(2, 8));
  cmd->add_option("--act-bits", o->act_bits, "Quantise an activation tensor with this many bits (apot, uniform)")
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
