// The model zoo against PyTorch definitions of the reference models (test/data/models, made by
// gen_models.py): parameter counts, state-dict names (a torchvision / DeepShift state dict maps 1:1),
// MACs, and logits with deterministic weights; plus output shapes, option errors and init.
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/flops.h"
#include "layers/linear.h"
#include "layers/models/registry.h"
#include "layers/models/resnet_cifar.h"
#include "zoo_helpers.h"

using namespace sl;
using sl::test::check_close;
using sl::test::error_of;
using sl::test::has_name;
using sl::test::load_deterministic;
using sl::test::make_input;

namespace {

const nlohmann::json& reference() {
  static const nlohmann::json j = [] {
    std::ifstream f(test::data_path("models/reference.json"));
    REQUIRE(f.good());
    return nlohmann::json::parse(f);
  }();
  return j;
}

ModelOptions options_for(const nlohmann::json& e) {
  ModelOptions o;
  auto in = e["natural_input"].get<std::vector<int64_t>>();
  o.in_channels = in[1];
  o.image_size = in[2];
  o.num_classes = e["arch"].get<std::string>().rfind("imagenet", 0) == 0 ? 1000 : 10;
  o.shortcut = e["shortcut"].get<std::string>();
  return o;
}

// Forward that also sums the MACs every WeightLayer recorded.
Tensor forward_counting(Module& m, const Tensor& x, int64_t& macs) {
  std::vector<WeightLayer*> layers;
  for (auto& kv : m.named_modules())
    if (auto* l = dynamic_cast<WeightLayer*>(kv.second.get())) {
      l->reset_macs();
      layers.push_back(l);
    }
  NoGradGuard no_grad;
  Tensor y = m.forward(x);
  macs = 0;
  for (auto* l : layers) macs += l->recorded_macs();
  return y;
}

}  // namespace

TEST_CASE("every zoo model matches its PyTorch reference: params, names, MACs and logits", "[models]") {
  const auto& models = reference()["models"];
  REQUIRE(models.size() == 18);
  for (auto it = models.begin(); it != models.end(); ++it) {
    const auto& e = it.value();
    const std::string arch = e["arch"];
    INFO("model " << it.key());
    ModulePtr m = make_model(arch, options_for(e));
    CHECK(m->parameter_count() == e["params"].get<int64_t>());
    std::set<std::string> ours, theirs;
    for (const auto& kv : m->state_dict()) ours.insert(kv.first);
    for (const auto& n : e["state_dict"]) theirs.insert(n.get<std::string>());
    CHECK(ours == theirs);

    load_deterministic(*m);
    m->eval();
    int64_t macs = 0;
    Tensor y = forward_counting(*m, make_input(e["test_input"].get<Shape>()), macs);
    CHECK(macs == e["test_macs"].get<int64_t>());
    Tensor want = test::load_data("models/" + e["logits"].get<std::string>());
    check_close(y, want, 2e-5, 2e-4);
    if (e.contains("logits_train")) {
      m->train();
      Tensor yt = m->forward(make_input(e["test_input"].get<Shape>()));
      check_close(yt, test::load_data("models/" + e["logits_train"].get<std::string>()), 2e-5, 2e-4);
    }
    // Natural-input MACs through the public counter (the ImageNet nets at 224: the next test case).
    if (arch.rfind("imagenet", 0) != 0)
      CHECK(count_macs(*m, e["natural_input"].get<Shape>()) == e["macs"].get<int64_t>());
  }
}

TEST_CASE("parameter counts equal the reference figures", "[models]") {
  struct Row {
    const char* arch;
    const char* shortcut;
    int64_t classes, channels, size, params;
  };
  const Row rows[] = {
      {"mnist-fc", "", 10, 1, 28, 669706},
      {"mnist-conv", "", 10, 1, 28, 431080},
      {"resnet20", "", 10, 3, 32, 269722},
      {"resnet20", "B", 10, 3, 32, 272474},
      {"resnet32", "", 10, 3, 32, 464154},
      {"resnet44", "", 10, 3, 32, 658586},
      {"resnet56", "", 10, 3, 32, 853018},
      {"resnet56", "B", 10, 3, 32, 855770},
      {"resnet110", "", 10, 3, 32, 1727962},
      {"resnet110", "B", 10, 3, 32, 1730714},
      {"resnet18", "", 10, 3, 32, 11000138},
      {"resnet18", "B", 10, 3, 32, 11173962},
      {"mobilenetv2", "", 10, 3, 32, 2296922},
      {"imagenet-resnet18", "", 1000, 3, 224, 11689512},
      {"imagenet-resnet34", "", 1000, 3, 224, 21797672},
      {"imagenet-resnet50", "", 1000, 3, 224, 25557032},
      {"resnet20", "B", 100, 3, 32, 272474 + 65 * 90},  // CIFAR-100 head (spec B4: +5,850)
  };
  for (const Row& r : rows) {
    INFO(r.arch << " shortcut '" << r.shortcut << "'");
    ModelOptions o;
    o.num_classes = r.classes;
    o.in_channels = r.channels;
    o.image_size = r.size;
    o.shortcut = r.shortcut;
    CHECK(make_model(r.arch, o)->parameter_count() == r.params);
  }
}

TEST_CASE("a forward on a random batch gives [batch, classes] for every model and other input options", "[models]") {
  struct Row {
    const char* arch;
    int64_t classes, channels, size, batch;
  };
  const Row rows[] = {{"mnist-fc", 10, 1, 28, 2},          {"mnist-conv", 7, 3, 32, 2},
                      {"resnet20", 100, 3, 32, 2},         {"resnet32", 10, 1, 16, 2},
                      {"resnet18", 10, 3, 40, 2},          {"mobilenetv2", 5, 3, 32, 2},
                      {"imagenet-resnet18", 10, 3, 64, 2}, {"imagenet-resnet50", 1000, 3, 64, 1},
                      {"imagenet-resnet34", 3, 1, 32, 2}};
  for (const Row& r : rows) {
    INFO(r.arch);
    ModelOptions o;
    o.num_classes = r.classes;
    o.in_channels = r.channels;
    o.image_size = r.size;
    ModulePtr m = make_model(r.arch, o);
    Tensor y = m->forward(test::randf({r.batch, r.channels, r.size, r.size}, 1));
    CHECK(y.shape() == Shape{r.batch, r.classes});
  }
}

TEST_CASE("models use the reference module names", "[models]") {
  NamedTensors tv = make_model("imagenet-resnet18", {})->state_dict();
  for (const char* n : {"conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.1.bn2.num_batches_tracked",
                        "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "fc.weight", "fc.bias"})
    CHECK(has_name(tv, n));
  CHECK_FALSE(has_name(tv, "layer1.0.downsample.0.weight"));
  NamedTensors r50 = make_model("imagenet-resnet50", {})->state_dict();
  CHECK(has_name(r50, "layer1.0.downsample.0.weight"));  // 64 -> 256 channels at stride 1
  CHECK(has_name(r50, "layer4.2.conv3.weight"));
  NamedTensors a = make_model("resnet20", {})->state_dict();
  CHECK(has_name(a, "layer3.2.conv2.weight"));
  CHECK(has_name(a, "linear.weight"));
  CHECK_FALSE(has_name(a, "layer2.0.shortcut.0.weight"));  // option A has no parameters
  ModelOptions b;
  b.shortcut = "B";
  NamedTensors bn = make_model("resnet20", b)->state_dict();
  CHECK(has_name(bn, "layer2.0.shortcut.0.weight"));
  CHECK(has_name(bn, "layer2.0.shortcut.1.running_mean"));
  NamedTensors mb = make_model("mobilenetv2", {})->state_dict();
  CHECK(has_name(mb, "layers.16.conv3.weight"));
  CHECK(has_name(mb, "layers.0.shortcut.0.weight"));
  ModelOptions mn;
  mn.in_channels = 1;
  mn.image_size = 28;
  ModulePtr fc = make_model("mnist-fc", mn);
  std::vector<std::string> order;
  for (const auto& kv : fc->named_modules()) order.push_back(kv.first);
  CHECK(order == std::vector<std::string>{"fc1", "dropout1", "fc2", "dropout2", "fc3"});
  ModulePtr conv = make_model("mnist-conv", mn);
  order.clear();
  for (const auto& kv : conv->named_modules()) order.push_back(kv.first);
  CHECK(order == std::vector<std::string>{"conv1", "conv2", "fc1", "fc2"});
}

TEST_CASE("bad model options give a clear error naming the option and its value", "[models][errors]") {
  auto err = [](const std::string& arch, const ModelOptions& o) { return error_of([&] { make_model(arch, o); }); };
  std::string m = err("resnet21", {});
  CHECK(m.find("unknown model architecture 'resnet21'") != std::string::npos);
  CHECK(m.find("resnet20, resnet32") != std::string::npos);
  CHECK(m.find("imagenet-resnet50") != std::string::npos);
  ModelOptions o;
  o.num_classes = 0;
  CHECK(err("resnet20", o).find("num_classes must be positive, got 0") != std::string::npos);
  o = {};
  o.in_channels = -1;
  CHECK(err("mnist-fc", o).find("in_channels must be positive, got -1") != std::string::npos);
  o = {};
  o.image_size = 0;
  CHECK(err("mnist-fc", o).find("image_size must be positive, got 0") != std::string::npos);
  o.image_size = 15;
  CHECK(err("mnist-conv", o).find("image_size 15 is too small") != std::string::npos);
  o.image_size = 16;
  CHECK(err("mnist-conv", o).empty());  // the smallest size with a positive flatten size
  o.image_size = 6;
  CHECK(err("resnet56", o).find("image_size 6 is too small") != std::string::npos);
  o.image_size = 64;
  m = err("resnet18", o);
  CHECK(m.find("image_size 64 gives a 8x8 final feature map") != std::string::npos);
  CHECK(m.find("[25, 56]") != std::string::npos);
  CHECK(err("mobilenetv2", o).find("image_size 64") != std::string::npos);
  o.image_size = 24;
  CHECK(err("imagenet-resnet50", o).find("image_size 24 is too small") != std::string::npos);
  o = {};
  o.shortcut = "C";
  CHECK(err("resnet20", o).find("shortcut must be \"A\" or \"B\", got \"C\"") != std::string::npos);
  o.shortcut = "A";
  CHECK(err("mobilenetv2", o).find("shortcut \"A\" does not apply") != std::string::npos);
  CHECK(err("imagenet-resnet18", o).find("accepted: B") != std::string::npos);
  o = {};
  o.init = "xavier";
  CHECK(err("resnet20", o).find("init must be") != std::string::npos);
  CHECK(error_of([] { model_info("vgg16"); }).find("unknown model architecture 'vgg16'") != std::string::npos);
}

TEST_CASE("registry: names, descriptions and natural inputs", "[models]") {
  std::vector<std::string> names = model_names();
  CHECK(names == std::vector<std::string>{"mnist-fc", "mnist-conv", "resnet20", "resnet32", "resnet44", "resnet56",
                                          "resnet110", "resnet18", "mobilenetv2", "imagenet-resnet18",
                                          "imagenet-resnet34", "imagenet-resnet50", "shiftresnet20", "shiftresnet56",
                                          "shiftresnet110"});
  for (const auto& info : model_infos()) {
    INFO(info.name);
    CHECK_FALSE(info.description.empty());
    CHECK_FALSE(info.source.empty());
    CHECK((info.dataset == "mnist" || info.dataset == "cifar" || info.dataset == "imagenet"));
    CHECK_NOTHROW(make_model(info.name, info.natural));
  }
  CHECK(model_info("mnist-conv").natural.image_size == 28);
  CHECK(model_info("imagenet-resnet50").natural.num_classes == 1000);
  CHECK(model_info("resnet20").natural.shortcut == "A");
  // ModelOptions is an aggregate: {classes, in_channels, image_size, shortcut, init}.
  CHECK(make_model("resnet20", {100, 3, 32, "B"})->parameter_count() == 272474 + 65 * 90);
}

TEST_CASE("initialisation: reference init per model, reproducible by seed, overridable", "[models][init]") {
  auto conv_std = [](const Tensor& w) {
    std::vector<float> v = w.to_vector<float>();
    double sq = 0;
    for (float f : v) sq += static_cast<double>(f) * f;
    return std::sqrt(sq / static_cast<double>(v.size()));
  };
  manual_seed(3);
  ModulePtr a = make_model("resnet20", {});
  manual_seed(3);
  ModulePtr b = make_model("resnet20", {});
  auto sa = a->state_dict(), sb = b->state_dict();
  for (size_t i = 0; i < sa.size(); ++i) CHECK(sa[i].second.to_vector<double>() == sb[i].second.to_vector<double>());

  // DeepShift's CIFAR nets keep PyTorch's default: U(+-1/sqrt(fan_in)), std = bound / sqrt(3).
  auto c = std::dynamic_pointer_cast<CifarResNet>(a);
  REQUIRE(c);
  double bound = 1 / std::sqrt(64.0 * 9);  // layer3: 64 input channels
  CHECK(conv_std(c->layers[2]->at<CifarBasicBlock>(1)->conv1->weight()) ==
        Approx(bound / std::sqrt(3.0)).epsilon(0.05));
  // torchvision: kaiming_normal fan_out: std = sqrt(2 / (64 * 9)) for layer1 convs; BN gamma 1.
  ModulePtr tv = make_model("imagenet-resnet18", {});
  auto sd = test::to_map(tv->state_dict());
  CHECK(conv_std(sd.at("layer1.0.conv1.weight")) == Approx(std::sqrt(2.0 / (64 * 9))).epsilon(0.03));
  CHECK(sd.at("bn1.weight").to_vector<float>() == std::vector<float>(64, 1.0f));
  // The init option swaps one for the other.
  ModelOptions o;
  o.init = "kaiming-fan-out";
  auto k = test::to_map(make_model("resnet20", o)->state_dict());
  CHECK(conv_std(k.at("layer3.1.conv1.weight")) == Approx(std::sqrt(2.0 / (64 * 9))).epsilon(0.05));
  o.init = "pytorch";
  auto p = test::to_map(make_model("imagenet-resnet18", o)->state_dict());
  CHECK(conv_std(p.at("layer1.0.conv1.weight")) == Approx(1 / std::sqrt(64.0 * 9) / std::sqrt(3.0)).epsilon(0.05));
}

TEST_CASE("option-A shortcut: x[:, :, ::2, ::2] zero-padded on both sides, with an exact gradient",
          "[models][gradcheck]") {
  Tensor x = test::data64({2, 3, 5, 4}, 1);
  Tensor y = subsample_pad_channels(x, 2);
  REQUIRE(y.shape() == Shape{2, 7, 3, 2});
  std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 7; ++c)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 2; ++j) {
          double want = (c < 2 || c >= 5) ? 0 : xv[static_cast<size_t>(((n * 3 + c - 2) * 5 + 2 * i) * 4 + 2 * j)];
          CHECK(yv[static_cast<size_t>(((n * 7 + c) * 3 + i) * 2 + j)] == want);
        }
  test::check_grad([](const TensorList& in) { return subsample_pad_channels(in[0], 3); },
                   {test::param64({2, 3, 5, 4}, 2)});
}

// The ImageNet nets' MACs at 224 x 224, the figures docs/models.md quotes (about 2 s of forwards).
TEST_CASE("ImageNet ResNet MACs at 224 x 224 equal the PyTorch count", "[models][flops]") {
  const auto& models = reference()["models"];
  for (const char* arch : {"imagenet-resnet18", "imagenet-resnet34", "imagenet-resnet50"}) {
    INFO(arch);
    const auto& e = models[arch];
    ModulePtr m = make_model(arch, options_for(e));
    CHECK(count_macs(*m, e["natural_input"].get<Shape>()) == e["macs"].get<int64_t>());
  }
}
