// `shiftlab count` run as a process: count.py's lines for the README's commands, the true MACs, the
// weight memory and shift counts per quantizer family, and its errors; quant/cost.h directly.
#include <sstream>

#include "helpers.h"
#include "layers/models/registry.h"
#include "layers/weight_layer.h"
#include "quant/cost.h"

using namespace sl;
using sl::test::error_of;
using sl::test::run_cli;

namespace {

// The output's lines.
std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

ModulePtr shiftresnet20(double e) {
  ModelOptions o;
  o.expansion = e;
  return make_model("shiftresnet20", o);
}

const Shape kCifar{1, 3, 32, 32};

}  // namespace

TEST_CASE("count prints the shiftresnet-cifar README's figures exactly", "[count][cli]") {
  struct Case {
    const char* args;
    const char* params;
    const char* flops;
  };
  const Case cases[] = {
      {"--arch resnet20", "Parameters: (new) 272474 (original) 272474 (reduction) 1.00",
       "FLOPs: (new) 40960640 (original) 40960640 (reduction) 1.00"},
      {"--arch shiftresnet20 --expansion 3", "Parameters: (new) 95642 (original) 272474 (reduction) 2.85",
       "FLOPs: (new) 16581248 (original) 40960640 (reduction) 2.47"},
      {"--arch resnet20 --reduction 2.8 --reduction-mode block",
       "Parameters: (new) 96206 (original) 272474 (reduction) 2.83",
       "FLOPs: (new) 14197376 (original) 40960640 (reduction) 2.89"},
      // count.py's own spelling of the flags (argparse "--arch=...") works too.
      {"--arch=shiftresnet20 --expansion=3", "Parameters: (new) 95642 (original) 272474 (reduction) 2.85",
       "FLOPs: (new) 16581248 (original) 40960640 (reduction) 2.47"},
      {"--arch shiftresnet56 --expansion 9", "Parameters: (new) 871898 (original) 855770 (reduction) 0.98", ""},
      {"--arch resnet110", "Parameters: (new) 1730714 (original) 1730714 (reduction) 1.00",
       "FLOPs: (new) 253297280 (original) 253297280 (reduction) 1.00"},
      // CIFAR-100: both networks get the 100-class head (+5,850 parameters, +5,760 FLOPs).
      {"--arch shiftresnet20 --expansion 3 --dataset cifar100",
       "Parameters: (new) 101492 (original) 278324 (reduction) 2.74",
       "FLOPs: (new) 16587008 (original) 40966400 (reduction) 2.47"},
  };
  for (const Case& c : cases) {
    INFO(c.args);
    auto r = run_cli(std::string("count ") + c.args);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    auto lines = lines_of(r.output);
    REQUIRE(lines.size() >= 7);
    CHECK(lines[0] == c.params);
    if (*c.flops) CHECK(lines[1] == c.flops);
  }
  // The lines after: true MACs, the model, the stem note, the FP32 weights.
  auto r = run_cli("count --arch shiftresnet20 --expansion 3");
  auto lines = lines_of(r.output);
  CHECK(lines[2] == "MACs (true): (new) 16433792 (original) 40813184 (reduction) 2.48");
  CHECK(contains(lines[3], "Model: shiftresnet20 expansion 3"));
  CHECK(contains(lines[3],
                 "input 1x3x32x32 (cifar10, the model's reference input), 10 classes; original: resnet20 shortcut B"));
  CHECK(contains(
      lines[4],
      "README-era stem term 32*32*9*64 = 589824, where the stem's true MACs are 442368 (HEAD's term: 1769472)"));
  CHECK(lines[5] == "Quantization: none (FP32 weights)");
  CHECK(lines[6] == "Weight memory: 3060544 bits = 95642 FP32 parameters x 32");
}

TEST_CASE("count: any zoo model, quantizer families, per-layer table", "[count][cli]") {
  auto r = run_cli("count --arch shiftresnet20 --expansion 3 --quant deepshift-q");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "Quantization: deepshift-q, 5-bit weights in 22 of 22 Conv2d/Linear layers\n"));
  CHECK(contains(r.output,
                 "Weight memory: 557104 bits = 92720 quantized weights x 5 + 2922 FP32 parameters x 32; "
                 "FP32: 3060544 bits (5.49x smaller)"));
  CHECK(contains(r.output, "Shifts: 16433792 of 16433792 MACs (100.00%) become shifts; 0 stay multiplies"));

  r = run_cli("count --arch shiftresnet20 --expansion 3 --quant apot");
  INFO(r.output);
  CHECK(contains(r.output, "apot, 4-bit weights in 20 of 22 Conv2d/Linear layers; 2 layer(s) at 8 bits"));
  CHECK(contains(r.output, "= 91648 quantized weights x 4 + 1072 weights x 8 + 22 per-layer scales x 32 + 2922 FP32"));
  CHECK(contains(r.output, "Shifts: 15990784 of 16433792 MACs (97.30%) become shift-adds of at most 2 shifts each"));

  r = run_cli("count --arch mobilenetv2 --quant s3 --layers");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto lines = lines_of(r.output);
  CHECK(lines[0] == "Parameters: 2296922");
  CHECK(lines[1] == "MACs (true): 91154944");
  CHECK(
      contains(lines[2], "count.py's Parameters/FLOPs comparison is defined for shiftresnet-cifar's option-B ResNets"));
  CHECK(contains(r.output, "s3, 3-bit weights in 56 of 58 Conv2d/Linear layers; 2 layer(s) in FP32"));
  CHECK(contains(r.output, "layer                        type        weights         MACs  bits\n"));
  CHECK(contains(r.output, "\nconv1 "));

  // DeepShift's option-A resnet20 is still reachable: no count.py comparison then.
  r = run_cli("count --arch resnet20 --shortcut A");
  CHECK(lines_of(r.output)[0] == "Parameters: 269722");
  // Fashion-MNIST at its own 28 x 28, one channel; or padded to 32.
  r = run_cli("count --arch shiftresnet20 --dataset fashion-mnist");
  CHECK(contains(r.output, "input 1x1x28x28 (fashion-mnist)"));
  r = run_cli("count --arch shiftresnet20 --dataset fashion-mnist --image-size 32");
  CHECK(contains(r.output, "input 1x1x32x32 (fashion-mnist)"));
}

TEST_CASE("count: bad options fail with a clear message and a non-zero exit", "[count][cli]") {
  struct Case {
    const char* args;
    const char* message;
  };
  const Case cases[] = {
      {"--arch shiftresnet20 --shift-kernel 2", "shift_kernel must be odd and positive"},
      {"--arch shiftresnet20 --expansion 0", "expansion must be a positive number, got 0"},
      {"--arch shiftresnet20 --expansion -3", "expansion must be a positive number, got -3"},
      {"--arch shiftresnet20 --expansion 0.01", "gives int(16 * 0.01) = 0 middle channels"},
      {"--arch mobilenetv2 --reduction 2", "reduction 2 applies only to the CIFAR ResNets"},
      {"--arch shiftresnet20 --reduction 2.8", "reduction 2.8 applies only to the CIFAR ResNets"},
      {"--arch resnet20 --expansion 3", "expansion 3 applies only to the ShiftResNets"},
      {"--arch resnet20 --reduction 2 --reduction-mode depthwise", "reduction_mode must be \"net\" or \"block\""},
      {"--arch resnet20 --reduction 2 --shortcut A", "shortcut \"A\" cannot be combined"},
      {"--arch resnet20 --reduction 0", "reduction must be a positive number, got 0"},
      {"--arch resnet21", "unknown model architecture 'resnet21'"},
      {"--arch resnet20 --quant s3 --weight-bits 5", "s3: weight bits must be in [2, 4], got 5"},
      {"--arch resnet20 --quant deepshift-q --weight-bits 1", "deepshift-q: weight bits must be in [2, 8], got 1"},
      {"--arch resnet20 --quant ternary", "--quant: ternary not in"},
      {"--arch resnet20 --dataset svhn", "--dataset: svhn not in"},
      {"--expansion 3", "--arch is required"},
  };
  for (const Case& c : cases) {
    INFO(c.args);
    auto r = run_cli(std::string("count ") + c.args);
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(contains(r.output, c.message));
    CHECK_FALSE(contains(r.output, "Parameters:"));  // nothing half-printed
  }
}

namespace {
// quant_cost converts the model it counts, so every call gets a fresh ShiftResNet20 e=3.
QuantCost cost(const std::string& method, int bits = 0, int64_t depth = -1) {
  ModulePtr m = shiftresnet20(3);
  QuantConfig c;
  c.method = method;
  c.weight_bits = bits;
  c.depth = depth;
  return quant_cost(*m, kCifar, c);
}
}  // namespace

TEST_CASE("quant_cost: memory and shift conventions per family", "[count][quant]") {
  QuantCost none = cost("none");
  CHECK(none.bits == 32);
  CHECK(none.memory_bits == 95642 * 32);
  CHECK(none.memory_bits == none.fp32_bits);
  CHECK(none.shift_macs == 0);
  CHECK(none.macs == 16433792);
  REQUIRE(none.layers.size() == 22);
  CHECK(none.layers.front().name == "conv1");
  CHECK(none.layers.back().name == "linear");

  QuantCost q = cost("deepshift-ps", 4);
  CHECK(q.bits == 4);
  CHECK(q.shift_terms == 1);
  CHECK(q.quantized_weights() == 92720);
  CHECK(q.memory_bits == 92720 * 4 + (95642 - 92720) * 32);
  CHECK(q.shift_macs == q.macs);

  QuantCost a = cost("apot");
  int64_t ends_macs = a.layers.front().macs + a.layers.back().macs;
  CHECK(a.bits == 4);
  CHECK(a.shift_terms == 2);
  CHECK(a.layer_count(LayerPrecision::eight_bit) == 2);
  CHECK(a.scales == 22);
  CHECK(a.shift_macs == a.macs - ends_macs);
  CHECK(a.memory_bits == 91648 * 4 + (432 + 640) * 8 + 22 * 32 + 2922 * 32);
  QuantCost u = cost("uniform");
  CHECK(u.shift_macs == 0);
  CHECK(u.memory_bits == a.memory_bits);
  QuantCost s3 = cost("s3");
  CHECK(s3.layers.front().precision == LayerPrecision::fp32);
  CHECK(s3.layers.back().bits == 32);
  CHECK(s3.memory_bits == 91648 * 3 + (95642 - 91648) * 32);
  CHECK(s3.shift_macs == a.shift_macs);

  // APoT: a level is a sum of ceil((bits - 1) / 2) powers of two.
  for (auto [bits, terms] : std::vector<std::pair<int, int>>{{2, 1}, {3, 1}, {4, 2}, {5, 2}, {6, 3}, {7, 3}})
    CHECK(cost("apot", bits).shift_terms == terms);

  CHECK(cost("deepshift-q").bits == 5);  // the families' default bits
  CHECK(cost("denseshift").bits == 3);
  CHECK(cost("uniform").bits == 4);
  // --quant-depth counts as the conversion does: the last 3 convs plus the linear layer.
  QuantCost d = cost("deepshift-q", 5, 3);
  CHECK(d.layer_count(LayerPrecision::quantized) == 4);
  CHECK(d.layers.back().precision == LayerPrecision::quantized);
  CHECK(d.layers.front().precision == LayerPrecision::fp32);
  CHECK(error_of([&] { cost("lsq"); }).find("unknown quant method 'lsq'") !=
        std::string::npos);
  CHECK(error_of([&] { cost("apot", 8); }).find("apot: weight bits must be in [2, 7]") !=
        std::string::npos);
  CHECK(error_of([&] { cost("denseshift", 5); }).find("[2, 4]") != std::string::npos);
}

TEST_CASE("the first and last weight layers in module order are the stem and the classifier", "[count][models]") {
  // quantize_model's "first / last" rule relies on this for every zoo model.
  for (const std::string& arch : model_names()) {
    INFO(arch);
    ModulePtr m = make_model(arch, model_info(arch).natural);
    std::vector<std::string> names;
    for (const auto& kv : m->named_modules())
      if (dynamic_cast<WeightLayer*>(kv.second.get()) != nullptr) names.push_back(kv.first);
    REQUIRE(names.size() >= 2);
    CHECK((names.front() == "conv1" || names.front() == "fc1"));
    CHECK((names.back() == "linear" || names.back() == "fc" || names.back() == "fc2" || names.back() == "fc3"));
  }
}
