// Shift2d layer, ShiftConv blocks, ShiftResNet20/56/110 and shiftresnet-cifar's reduced ResNets:
// against the PyTorch definitions of test/data/models/gen_shiftresnet.py (checked there against the
// upstream code: names, parameters, count.py FLOPs of both eras, logits) and against the published
// figures (spec-deepshift-shift.md §B4, the README's Params column); option errors; one training step
// of a shift block whose 1x1 convs carry DeepShift quantizers.
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "layers/flops.h"
#include "layers/models/registry.h"
#include "layers/models/shiftresnet.h"
#include "quant/deepshift.h"
#include "train/sgd.h"
#include "zoo_helpers.h"

using namespace sl;
using sl::test::check_close;
using sl::test::error_of;

namespace {

const nlohmann::json& reference() {
  static const nlohmann::json j = [] {
    std::ifstream f(test::data_path("models/shiftresnet_reference.json"));
    REQUIRE(f.good());
    return nlohmann::json::parse(f);
  }();
  return j;
}

ModelOptions shift_options(double expansion, double reduction = 1, const std::string& mode = "", int64_t classes = 10) {
  ModelOptions o;
  o.num_classes = classes;
  o.expansion = expansion;
  o.reduction = reduction;
  o.reduction_mode = mode;
  return o;
}

// Builds what count.py builds for (arch, e, r, mode): resnetN as option B.
ModulePtr build(const std::string& arch, double e, double r = 1, const std::string& mode = "", int64_t classes = 10) {
  ModelOptions o = shift_options(e, r, mode, classes);
  if (arch.rfind("resnet", 0) == 0) o.shortcut = "B";
  return make_model(arch, o);
}

const Shape kCifar{1, 3, 32, 32};

}  // namespace

TEST_CASE("Shift2d layer: no parameters, the op's offsets, option errors", "[shift][layers]") {
  Shift2d s;
  CHECK(s.named_parameters().empty());
  CHECK(s.options().kernel_size() == 3);
  Tensor x = sl::test::randf({2, 11, 4, 5}, 3);
  check_close(s.forward(x), shift2d(x, 3, 1), 0);
  Shift2d s5(Shift2dOptions().kernel_size(5).dilation(2));
  check_close(s5.forward(x), shift2d(x, 5, 2), 0);
  CHECK(error_of([] { Shift2d(Shift2dOptions().kernel_size(4)); }).find("kernel size must be odd and positive") !=
        std::string::npos);
  CHECK(error_of([] { Shift2d(Shift2dOptions().kernel_size(4)); }).find("got 4") != std::string::npos);
  CHECK(error_of([] { Shift2d(Shift2dOptions().kernel_size(0)); }).find("got 0") != std::string::npos);
  CHECK(error_of([] { Shift2d(Shift2dOptions().dilation(0)); }).find("dilation must be >= 1, got 0") !=
        std::string::npos);
}

TEST_CASE("ShiftConv: widths, shapes, names and the ReLU before the residual add", "[shift][models]") {
  // mid = int(out * e) of the OUTPUT width: 16 -> 32 at e = 3 gives 96 (the README's in * e would be 48).
  ShiftConv down(16, 32, 2, 3.0);
  CHECK(down.mid_planes() == 96);
  CHECK(down.conv1->options().kernel_size() == Size2{1, 1});
  CHECK(down.conv1->options().stride() == Size2{1, 1});
  CHECK(down.conv2->options().stride() == Size2{2, 2});  // the stride comes after the shift
  CHECK(ShiftConv(16, 16, 1, 1.5).mid_planes() == 24);
  CHECK(ShiftConv(10, 10, 1, 0.35).mid_planes() == 3);  // int(3.5)
  std::set<std::string> names;
  for (const auto& kv : down.state_dict()) names.insert(kv.first);
  CHECK(names.count("conv1.weight") == 1);
  CHECK(names.count("shortcut.0.weight") == 1);
  CHECK(names.count("shortcut.1.running_var") == 1);
  CHECK(down.child("shift2")->type_name() == "Shift2d");
  down.eval();
  Tensor x = sl::test::randf({2, 16, 8, 8}, 5);
  CHECK(down.forward(x).shape() == Shape{2, 32, 4, 4});

  // Identity shortcut: y = x + ReLU(...), so y - x >= 0 everywhere while y itself goes negative
  // where x does (a BasicBlock would ReLU after the add and be >= 0).
  ShiftConv same(16, 16, 1, 1.0);
  same.eval();
  CHECK(same.shortcut->empty());
  Tensor y = same.forward(x);
  std::vector<float> yv = y.to_vector<float>(), xv = x.to_vector<float>();
  bool negative = false, below_input = false;
  for (size_t i = 0; i < yv.size(); ++i) {
    negative = negative || yv[i] < 0;
    below_input = below_input || yv[i] < xv[i] - 1e-6f;
  }
  CHECK(negative);
  CHECK_FALSE(below_input);
  // And literally: ReLU(bn2(conv2(shift(ReLU(bn1(conv1 x)))))) + x.
  Tensor want =
      relu(same.bn2->forward(same.conv2->forward(shift2d(relu(same.bn1->forward(same.conv1->forward(x))))))) + x;
  check_close(y, want, 0);

  CHECK(error_of([] { ShiftConv(16, 16, 1, 0.05); }).find("int(16 * 0.05) = 0 middle channels") != std::string::npos);
  CHECK(error_of([] { ShiftConv(16, 16, 1, 1.0, 2); }).find("kernel size must be odd") != std::string::npos);
}

TEST_CASE("ShiftResNets and reduced ResNets match the PyTorch definitions and upstream's count.py", "[shift][models]") {
  const auto& models = reference()["models"];
  REQUIRE(models.size() == 23);
  for (auto it = models.begin(); it != models.end(); ++it) {
    const auto& e = it.value();
    INFO("config " << it.key());
    std::string arch = e["arch"];
    std::string mode = arch.rfind("shift", 0) == 0 ? "" : e["reduction_mode"].get<std::string>();
    ModulePtr m = build(arch, e["expansion"], e["reduction"], mode, e["classes"]);
    CHECK(m->parameter_count() == e["params"].get<int64_t>());
    CHECK(count_py_flops(*m, kCifar).total() == e["flops_readme"].get<int64_t>());
    CHECK(count_py_flops(*m, kCifar, CountPyStem::head).total() == e["flops_head"].get<int64_t>());
    CHECK(count_macs(*m, kCifar) == e["macs"].get<int64_t>());
    if (!e.contains("logits")) continue;
    std::set<std::string> ours, theirs;
    for (const auto& kv : m->state_dict()) ours.insert(kv.first);
    for (const auto& n : e["state_dict"]) theirs.insert(n.get<std::string>());
    CHECK(ours == theirs);
    sl::test::load_deterministic(*m);
    m->eval();
    Tensor x = sl::test::make_input(e["test_input"].get<Shape>());
    check_close(m->forward(x), test::load_data("models/" + e["logits"].get<std::string>()), 2e-5, 2e-4);
    if (e.contains("logits_train")) {  // batch statistics through the shifts
      m->train();
      check_close(m->forward(x), test::load_data("models/" + e["logits_train"].get<std::string>()), 2e-5, 2e-4);
    }
  }
}

TEST_CASE("count.py figures equal the published ones (spec §B4, README)", "[shift][models]") {
  struct Row {
    const char* arch;
    double e, r;
    const char* mode;
    int64_t params, flops;  // flops 0: not published
  };
  const Row rows[] = {
      {"resnet20", 1, 1, "", 272474, 40960640},       {"shiftresnet20", 3, 1, "", 95642, 16581248},
      {"resnet20", 1, 2.8, "block", 96206, 14197376}, {"shiftresnet20", 1, 1, "", 34906, 6095488},
      {"shiftresnet20", 6, 1, "", 186746, 32309888},  {"shiftresnet20", 9, 1, "", 277850, 48038528},
      {"resnet56", 1, 1, "", 855770, 125895296},      {"resnet110", 1, 1, "", 1730714, 253297280},
      {"shiftresnet56", 1, 1, "", 102106, 0},         {"shiftresnet56", 3, 1, "", 294554, 0},
      {"shiftresnet56", 6, 1, "", 583226, 0},         {"shiftresnet56", 9, 1, "", 871898, 0},
      {"shiftresnet110", 1, 1, "", 202906, 0},        {"shiftresnet110", 3, 1, "", 592922, 0},
      {"shiftresnet110", 6, 1, "", 1177946, 0},       {"shiftresnet110", 9, 1, "", 1762970, 0},
  };
  for (const Row& r : rows) {
    INFO(r.arch << " e " << r.e << " r " << r.r << " " << r.mode);
    ModulePtr m = build(r.arch, r.e, r.r, r.mode);
    CHECK(m->parameter_count() == r.params);
    CountPyFlops f = count_py_flops(*m, kCifar);
    if (r.flops > 0) CHECK(f.total() == r.flops);
    CHECK(f.stem == 32 * 32 * 9 * 64);  // the README-era term: C_last in place of 3 x 16
    // CIFAR-100: (64 + 1) * 90 more parameters, 64 * 90 more FLOPs.
    ModulePtr m100 = build(r.arch, r.e, r.r, r.mode, 100);
    CHECK(m100->parameter_count() - r.params == 5850);
    CHECK(count_py_flops(*m100, kCifar).total() - f.total() == 5760);
  }
  // resnet20 breakdown (spec §B4): blocks, stem, FC.
  CountPyFlops f = count_py_flops(*build("resnet20", 1), kCifar);
  CHECK(f.blocks == 40370176);
  CHECK(f.fc == 640);
  CHECK(count_py_flops(*build("resnet20", 1), kCifar, CountPyStem::head).total() == 42140288);

  // The README's CIFAR tables: Params in millions (2 decimals) and the reduction in parameters of
  // each ShiftResNet against its ResNet (1 decimal; 2 for 0.98), e = 1, 3, 6, 9 then the ResNet.
  struct Readme {
    const char* depth;
    const char* params[5];
    const char* reductions[4];
  };
  const Readme tables[] = {{"20", {"0.03", "0.10", "0.19", "0.28", "0.27"}, {"7.8", "2.9", "1.5", "0.98"}},
                           {"56", {"0.10", "0.29", "0.58", "0.87", "0.86"}, {"8.4", "2.9", "1.5", "0.98"}},
                           {"110", {"0.20", "0.59", "1.18", "1.76", "1.73"}, {"8.5", "2.9", "1.5", "0.98"}}};
  for (const Readme& t : tables) {
    int64_t base = build(std::string("resnet") + t.depth, 1)->parameter_count();
    CHECK(fmt::format("{:.2f}", static_cast<double>(base) / 1e6) == t.params[4]);
    const double es[] = {1, 3, 6, 9};
    for (int i = 0; i < 4; ++i) {
      INFO("ShiftResNet" << t.depth << " e " << es[i]);
      int64_t p = build(std::string("shiftresnet") + t.depth, es[i])->parameter_count();
      CHECK(fmt::format("{:.2f}", static_cast<double>(p) / 1e6) == t.params[i]);
      // count.py prints the ratio with 2 decimals ("2.85" for e = 3); the table rounds that string
      // half-up to 1 decimal (2.85 -> "2.9", where the ratio 2.849 itself would give 2.8).
      std::string printed = fmt::format("{:.2f}", static_cast<double>(base) / static_cast<double>(p));
      int64_t hundredths = std::llround(std::stod(printed) * 100);
      std::string table = i == 3 ? printed : fmt::format("{}.{}", (hundredths + 5) / 100, (hundredths + 5) / 10 % 10);
      CHECK(table == t.reductions[i]);
    }
  }
}

TEST_CASE("ShiftResNet and reduction options: values, applicability, shortcuts", "[shift][models]") {
  auto err = [](const std::string& arch, const ModelOptions& o) { return error_of([&] { make_model(arch, o); }); };
  ModelOptions o;
  o.shift_kernel = 4;
  CHECK(err("shiftresnet20", o).find("shift_kernel must be odd and positive") != std::string::npos);
  CHECK(err("shiftresnet20", o).find("got 4") != std::string::npos);
  o = {};
  o.shift_kernel = 5;
  CHECK(err("resnet20", o).find("shift_kernel 5 applies only to the ShiftResNets") != std::string::npos);
  CHECK(make_model("shiftresnet20", o)->parameter_count() == 34906);  // the kernel has no parameters
  for (double bad : {0.0, -1.0, std::nan("")}) {
    o = {};
    o.expansion = bad;
    CHECK(err("shiftresnet56", o).find("expansion must be a positive number") != std::string::npos);
    o = {};
    o.reduction = bad;
    CHECK(err("resnet20", o).find("reduction must be a positive number") != std::string::npos);
  }
  o = {};
  o.expansion = 3;
  CHECK(err("resnet20", o).find("expansion 3 applies only to the ShiftResNets") != std::string::npos);
  CHECK(err("mobilenetv2", o).find("expansion 3 applies only") != std::string::npos);
  o = {};
  o.reduction = 2;
  CHECK(err("shiftresnet20", o).find("reduction 2 applies only to the CIFAR ResNets") != std::string::npos);
  CHECK(err("mobilenetv2", o).find("reduction 2 applies only to the CIFAR ResNets") != std::string::npos);
  CHECK(err("imagenet-resnet18", o).find("reduction 2 applies only") != std::string::npos);
  o.reduction_mode = "depthwise";
  CHECK(err("resnet20", o).find("reduction_mode must be \"net\" or \"block\", got \"depthwise\" (count.py lists it") !=
        std::string::npos);
  o.reduction_mode = "blocks";
  CHECK(err("resnet20", o).find("got \"blocks\"") != std::string::npos);
  o = {};
  o.reduction_mode = "block";
  CHECK(err("shiftresnet20", o).find("reduction_mode \"block\" applies only") != std::string::npos);
  o = {};
  o.reduction = 300;
  CHECK(err("resnet20", o).find("reduction 300 (mode net) is too large") != std::string::npos);

  // A reduced ResNet is option B; option A is refused with it, and r = 1 keeps DeepShift's default A.
  o = {};
  o.reduction = 2.8;
  o.reduction_mode = "block";
  CHECK(make_model("resnet20", o)->parameter_count() == 96206);
  o.shortcut = "A";
  CHECK(err("resnet20", o).find("shortcuts are option B; shortcut \"A\" cannot be combined") != std::string::npos);
  o = {};
  o.reduction_mode = "block";
  CHECK(make_model("resnet20", o)->parameter_count() == 269722);
  CHECK(err("shiftresnet20",
            [] {
              ModelOptions s;
              s.shortcut = "B";
              return s;
            }())
            .find("does not apply to this model") != std::string::npos);

  // Registry metadata.
  const ModelInfo& info = model_info("shiftresnet110");
  CHECK(info.has_expansion);
  CHECK_FALSE(info.has_reduction);
  CHECK(info.dataset == "cifar");
  CHECK(info.natural.image_size == 32);
  CHECK(model_info("resnet56").has_reduction);
  CHECK_FALSE(model_info("resnet18").has_reduction);

  // Other inputs: Fashion-MNIST at 28 x 28, one channel (global pooling), CIFAR-100 head.
  o = {};
  o.in_channels = 1;
  o.image_size = 28;
  o.expansion = 3;
  ModulePtr m = make_model("shiftresnet20", o);
  m->eval();
  CHECK(m->forward(zeros({2, 1, 28, 28})).shape() == Shape{2, 10});
  // count.py refuses what it cannot count: option A, other families.
  CHECK_FALSE(count_py_applies(*make_model("resnet20", {})));
  CHECK(error_of([] {
          count_py_flops(*make_model("mobilenetv2", {}), kCifar);
        }).find("not a shiftresnet-cifar ResNet") != std::string::npos);
}

TEST_CASE("a shift block with DeepShift 1x1 convs trains: gradients reach the latents, the loss falls", "[shift][quant]") {
  for (const char* method : {"deepshift-q", "deepshift-ps"}) {
    INFO(method);
    default_generator().manual_seed(7);
    auto block = std::make_shared<ShiftConv>(8, 16, 2, 3.0);
    for (auto conv : {block->conv1, block->conv2}) {
      if (std::string(method) == "deepshift-q") {
        conv->set_weight_parametrization(std::make_shared<DeepShiftQ>(5, Rounding::deterministic, false));
      } else {
        conv->set_weight_parametrization(
            std::make_shared<DeepShiftPS>(conv->weight(), 5, Rounding::deterministic, false));
        conv->remove_weight();
      }
    }
    NamedTensors params = block->named_parameters();
    bool ps = std::string(method) == "deepshift-ps";
    CHECK(sl::test::has_name(params, ps ? "conv1.shift" : "conv1.weight"));
    CHECK(sl::test::has_name(params, ps ? "conv2.sign" : "conv2.weight"));
    std::map<std::string, Tensor> before;
    for (const auto& kv : params) before[kv.first] = kv.second.detach().clone();

    SGD opt(params, OptimizerOptions::sgd(0.1).momentum(0.9));
    Tensor x = sl::test::randf({4, 8, 6, 6}, 11);
    Tensor target = sl::test::randf({4, 16, 3, 3}, 12);
    opt.zero_grad();
    Tensor diff = block->forward(x) - target;
    Tensor loss = mean(diff * diff);
    REQUIRE(std::isfinite(loss.item()));
    loss.backward();
    for (const auto& kv : params) {
      INFO(kv.first);
      REQUIRE(kv.second.grad().defined());
      std::vector<float> g = kv.second.grad().to_vector<float>();
      double norm = 0;
      for (float v : g) norm += std::abs(v);
      CHECK(std::isfinite(norm));
      CHECK(norm > 0);
    }
    opt.step();
    // The latents of both quantized convs moved.
    for (const char* name : {ps ? "conv1.shift" : "conv1.weight", ps ? "conv2.sign" : "conv2.weight"}) {
      INFO(name);
      Tensor now;
      for (const auto& kv : block->named_parameters())
        if (kv.first == name) now = kv.second;
      REQUIRE(now.defined());
      CHECK(sum(abs(now.detach() - before[name])).item() > 0);
    }
    // A few more steps on the same tiny batch fit it better than the initial weights did.
    double first = loss.item(), last = first;
    for (int step = 0; step < 30; ++step) {
      opt.zero_grad();
      Tensor d = block->forward(x) - target;
      Tensor l = mean(d * d);
      last = l.item();
      REQUIRE(std::isfinite(last));
      l.backward();
      opt.step();
    }
    CHECK(last < 0.9 * first);
  }
}
