// Converting models: which layers each rule picks (DeepShift's --shift-depth counted from the end
// as its code does, the "first" option, each paper's first/last-layer rule), parameter names, bad
// options, and the level-set properties of trained quantized models.
#include <set>

#include "helpers.h"
#include "layers/models/registry.h"
#include "layers/weight_layer.h"
#include "quant/convert.h"
#include "quant/quantizer.h"
#include "train/optimizer.h"

using namespace sl;
using sl::test::error_of;

namespace {
std::vector<std::string> converted(const ConversionReport& r) {
  std::vector<std::string> out;
  for (const LayerPlan& l : r.layers)
    if (l.what != "fp32" && l.what != "8-bit") out.push_back(l.name);
  return out;
}

QuantConfig config(const std::string& method, int64_t depth = -1, const std::string& order = "last") {
  QuantConfig c;
  c.method = method;
  c.depth = depth;
  c.order = order;
  return c;
}

ModelOptions mnist() { return ModelOptions{10, 1, 28, "", ""}; }
}  // namespace

TEST_CASE("quant depth counts convs from the end, as DeepShift's convert_to_shift", "[quant][convert]") {
  Generator gen(1);
  auto r20 = make_model("resnet20");
  // Spec §A6: resnet20 with shift-depth 3 converts the last three convs and the Linear.
  auto r = quantize_model(*r20, config("deepshift-q", 3), gen);
  std::vector<std::string> want{"layer3.1.conv2", "layer3.2.conv1", "layer3.2.conv2", "linear"};
  CHECK(converted(r) == want);
  auto conv = make_model("mnist-conv", mnist());
  CHECK(converted(quantize_model(*conv, config("deepshift-ps", 1), gen)) ==
        std::vector<std::string>{"conv2", "fc1", "fc2"});
  auto fc = make_model("mnist-fc", mnist());  // no convs: the Linear layers are counted
  CHECK(converted(quantize_model(*fc, config("deepshift-q", 1), gen)) == std::vector<std::string>{"fc3"});
  auto first = make_model("mnist-conv", mnist());
  CHECK(converted(quantize_model(*first, config("deepshift-q", 1, "first"), gen)) ==
        std::vector<std::string>{"conv1", "fc1", "fc2"});
  auto all = make_model("resnet20");
  CHECK(quantize_model(*all, config("deepshift-q"), gen).quantized == 20);  // 19 convs + linear
}

TEST_CASE("first and last layers follow each paper's rule", "[quant][convert]") {
  Generator gen(2);
  auto apot = make_model("resnet20");
  auto r = quantize_model(*apot, config("apot"), gen);
  CHECK(r.layers.front().what == "8-bit");
  CHECK(r.layers.back().what == "8-bit");
  CHECK(r.quantized == 18);
  auto s3 = make_model("resnet20");
  auto rs = quantize_model(*s3, config("s3"), gen);
  CHECK(rs.layers.front().what == "fp32");
  CHECK(rs.layers.back().what == "fp32");
  QuantConfig c = config("denseshift");
  c.first_last = "quantize";
  auto ds = make_model("resnet20");
  CHECK(quantize_model(*ds, c, gen).quantized == 20);
}

TEST_CASE("quantized layers expose the latents under the layer's own names", "[quant][convert]") {
  Generator gen(3);
  auto ps = make_model("mnist-conv", mnist());
  quantize_model(*ps, config("deepshift-ps"), gen);
  std::set<std::string> names;
  for (auto& kv : ps->named_parameters()) names.insert(kv.first);
  CHECK(names == std::set<std::string>{"conv1.shift", "conv1.sign", "conv1.bias", "conv2.shift", "conv2.sign",
                                       "conv2.bias", "fc1.shift", "fc1.sign", "fc1.bias", "fc2.shift", "fc2.sign",
                                       "fc2.bias"});
  auto apot = make_model("resnet20");
  quantize_model(*apot, config("apot"), gen);
  std::set<std::string> an;
  for (auto& kv : apot->named_parameters()) an.insert(kv.first);
  CHECK(an.count("layer1.0.conv1.weight_alpha"));
  CHECK(an.count("layer1.0.conv1.act_alpha"));
  CHECK(!an.count("conv1.weight_alpha"));  // the 8-bit stem has no alpha
}

TEST_CASE("bad quantization options name the option", "[quant][convert][errors]") {
  Generator gen(4);
  auto m = make_model("mnist-conv", mnist());
  QuantConfig c = config("deepshift-q");
  c.weight_bits = 9;
  CHECK(error_of([&] { quantize_model(*m, c, gen); }).find("weight bits must be in [2, 8], got 9") != std::string::npos);
  CHECK(error_of([&] { quantize_model(*m, config("nope"), gen); }).find("unknown quant method 'nope'") != std::string::npos);
  CHECK(error_of([&] { quantize_model(*m, config("deepshift-q", -2), gen); }).find("quant_depth must be >= 0") !=
        std::string::npos);
  c = config("s3");
  c.weight_bits = 5;
  CHECK(error_of([&] { quantize_model(*m, c, gen); }).find("s3: weight bits must be in [2, 4], got 5") != std::string::npos);
  c = config("deepshift-ps");
  c.act_bits = {8};
  CHECK(error_of([&] { quantize_model(*m, c, gen); }).find("takes two numbers") != std::string::npos);
  auto twice = make_model("mnist-conv", mnist());
  quantize_model(*twice, config("deepshift-q"), gen);
  CHECK(error_of([&] { quantize_model(*twice, config("apot"), gen); }).find("already quantized") != std::string::npos);
}

TEST_CASE("trained quantized models export weights on their level sets within the bit budget", "[quant][convert]") {
  struct Case {
    std::string method;
    int bits;
  };
  for (const Case& k : std::vector<Case>{{"deepshift-q", 5}, {"deepshift-q", 3}, {"deepshift-ps", 5}, {"deepshift-ps", 3},
                                         {"apot", 4}, {"apot", 3}, {"apot", 2}, {"uniform", 4}, {"s3", 3}, {"s3", 2},
                                         {"denseshift", 3}, {"denseshift", 2}}) {
    INFO(k.method << " " << k.bits << " bits");
    Generator gen(5);
    manual_seed(5);
    auto model = make_model("mnist-conv", mnist());
    QuantConfig c = config(k.method);
    c.weight_bits = k.bits;
    quantize_model(*model, c, gen);
    auto opt = make_optimizer("sgd", {ParamGroup{model->named_parameters(), OptimizerOptions::sgd(0.05).momentum(0.9)}});
    Tensor x = randn({8, 1, 28, 28}, DType::f32, Device::cpu, 0, 1, &gen);
    Tensor y = from_vector<int32_t>({0, 1, 2, 3, 4, 5, 6, 7});
    for (int step = 0; step < 3; ++step) {
      opt->zero_grad();
      Tensor loss = cross_entropy((*model)(x), y);
      REQUIRE(std::isfinite(loss.item()));
      loss.backward();
      opt->step();
    }
    for (auto& [name, m] : model->named_modules()) {
      auto layer = std::dynamic_pointer_cast<WeightLayer>(m);
      if (!layer) continue;
      auto q = std::dynamic_pointer_cast<WeightQuantizer>(layer->weight_parametrization());
      if (!q) continue;
      INFO("layer " << name);
      ExportedCodes codes = q->export_codes(layer->weight());  // throws if a value is off the level set
      std::set<std::pair<int, int>> used;
      std::vector<int8_t> s = codes.sign.to_vector<int8_t>();
      std::vector<int32_t> idx = codes.index.to_vector<int32_t>();
      for (size_t i = 0; i < s.size(); ++i) used.insert({s[i] * (codes.magnitudes[static_cast<size_t>(idx[i])] != 0), idx[i]});
      // APoT's 8-bit first/last quantizer has no clamp (upstream): values below -max go past -127
      // steps, so only the families' own bit widths are budget-checked.
      if (q->method() == "apot-8bit") continue;
      CHECK(used.size() <= (size_t{1} << q->bits()));
      CHECK(q->levels().size() <= (size_t{1} << q->bits()));
      if (k.method == "denseshift")
        for (int8_t v : s) CHECK(v != 0);
    }
  }
}
