// Export of trained models to the deploy runtime: integer weights exact for every shift family, the
// batch norm folded, the runtime's logits close to the float-simulated model's on the calibration
// distribution, the file round trip, the CLI (export, eval --deploy) and clear errors on bad files.
#include <fstream>

#include "autograd/node.h"
#include "deploy/runtime.h"
#include "engine/factory.h"
#include "export/exporter.h"
#include "export/weight_codes.h"
#include "helpers.h"
#include "layers/models/registry.h"
#include "quant/convert.h"

using namespace sl;

namespace {

ModulePtr quantized_model(const std::string& arch, const std::string& family, int bits, uint64_t seed,
                          const std::string& shortcut = "") {
  manual_seed(seed);
  ModelOptions o = model_info(arch).natural;
  o.shortcut = shortcut;
  ModulePtr m = make_model(arch, o);
  Generator gen(seed);
  QuantConfig q;
  q.method = family;
  q.weight_bits = bits;
  quantize_model(*m, q, gen);
  return m;
}

// Batch statistics from a few training-mode forwards, so the folded batch norms are not identities.
void warm_batch_norms(Module& m, const Shape& input, uint64_t seed) {
  m.train();
  NoGradGuard no_grad;
  Generator gen(seed);
  for (int i = 0; i < 3; ++i) m.forward(randn(input, DType::f32, Device::cpu, 0, 1, &gen));
  m.eval();
}

// Relative L2 distance between the runtime's logits and the float model's, on fresh images.
double logit_distance(Module& m, deploy::InferenceModel& runtime, const Shape& input, uint64_t seed) {
  Generator gen(seed);
  Tensor x = randn(input, DType::f32, Device::cpu, 0, 1, &gen);
  m.eval();
  NoGradGuard no_grad;
  std::vector<float> want = m.forward(x).to_vector<float>();
  std::vector<float> in = x.to_vector<float>();
  std::vector<float> got = runtime.run(in.data(), input[0]);
  REQUIRE(got.size() == want.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / den);
}

}  // namespace

TEST_CASE("integer codes are exact for power-of-two and APoT levels and count what a rounding loses",
          "[deploy][export]") {
  // One channel of powers of two spanning 7 exponents, one of APoT-like sums, one of arbitrary floats.
  std::vector<float> w = {0.5f, -0.25f, 0.0078125f, 0, -0.5f, 0.125f,   // 2^-1 .. 2^-7: 64 steps
                          0.75f, -0.375f, 0.1875f, 0, 0.5625f, -0.75f,  // multiples of 3/16
                          0.3f, -0.7f, 0.11f, 0.01f, 0.5f, -0.123f};
  ChannelCodes c = integer_codes(w, 3, 6);
  CHECK(c.q[0] == 64);
  CHECK(c.q[2] == 1);
  CHECK(c.scale[0] == 0.5f / 64);
  CHECK(c.q[6] == 4);  // 0.75 / (0.75 / 4): 3/16 steps
  CHECK(c.q[7] == -2);
  CHECK(c.inexact_rows == 1);
  CHECK(c.rounded > 0);
  CHECK(c.q[13] == -127);  // a rounded channel of arbitrary values: 8-bit integers
  CHECK(c.max_relative_error <= 0.5 / 127 + 1e-9);
  for (int i = 0; i < 12; ++i) CHECK(c.q[static_cast<size_t>(i)] * c.scale[static_cast<size_t>(i / 6)] == Approx(w[static_cast<size_t>(i)]).margin(1e-7));
  // 8-bit levels (APoT's first/last layers: multiples of max / 127) are exact.
  std::vector<float> eight = {127 * 0.01f, -3 * 0.01f, 100 * 0.01f, -127 * 0.01f};
  ChannelCodes e = integer_codes(eight, 1, 4);
  CHECK(e.inexact_rows == 0);
  CHECK(e.q == std::vector<int8_t>{127, -3, 100, -127});
  // A power-of-two channel spanning 9 exponents keeps the top 7 exactly and zeroes the rest.
  std::vector<float> wide = {1, 0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f, 0.00390625f};
  ChannelCodes d = integer_codes(wide, 1, 9);
  CHECK(d.q[0] == 64);
  CHECK(d.q[6] == 1);
  CHECK(d.zeroed == 2);
  CHECK(d.max_relative_error <= 0.5 / 64 + 1e-9);
}

TEST_CASE("mnist-conv exports exactly for every family and the runtime follows the float model",
          "[deploy][export]") {
  struct Family {
    const char* name;
    int bits;
  };
  for (const Family f : {Family{"deepshift-q", 5}, Family{"deepshift-ps", 5}, Family{"apot", 4}, Family{"uniform", 4},
                         Family{"s3", 3}, Family{"denseshift", 3}, Family{"none", 0}}) {
    INFO(f.name);
    ModulePtr m = quantized_model("mnist-conv", f.name, f.bits, 7);
    Generator gen(3);
    ExportResult r = export_model(*m, randn({64, 1, 28, 28}, DType::f32, Device::cpu, 0, 1, &gen));
    REQUIRE(r.layers.size() == 4);
    for (const ExportedLayer& l : r.layers) {
      INFO(l.name << " " << l.format);
      CHECK(l.code_bits <= 8);
      // Quantised layers are exact, APoT's 8-bit first/last layers included (DeepShift's power-of-two
      // channels may span more than 7 exponents: their smallest weights are the ones rounded); FP32
      // layers are rounded to 8-bit per-channel integers and take 8-bit codes.
      const std::string family = f.name;
      const bool levels = l.format != "fp32";
      if (levels && family != "deepshift-q" && family != "deepshift-ps") CHECK(l.rounded == 0);
      if (levels && (family == "s3" || family == "denseshift")) CHECK(l.code_bits <= 4);
    }
    deploy::InferenceModel runtime(r.graph);
    // APoT / uniform quantise each layer's input once more: the deploy model rounds to the uint8 grid
    // of the tensor, then maps onto the activation levels, so values near a level boundary can land
    // one level off (on trained models the accuracy moves by < 0.1 point: README's deploy table).
    const std::string family = f.name;
    const double bound = family == "apot" || family == "uniform" ? 0.25 : 0.05;
    CHECK(logit_distance(*m, runtime, {16, 1, 28, 28}, 11) < bound);
  }
}

TEST_CASE("CIFAR ResNets and ShiftResNets export with folded batch norms, shortcuts and the shift",
          "[deploy][export]") {
  struct Case {
    const char* arch;
    const char* family;
    int bits;
    const char* shortcut;
  };
  for (const Case c : {Case{"resnet20", "deepshift-ps", 5, "A"}, Case{"resnet20", "apot", 4, "B"},
                       Case{"shiftresnet20", "denseshift", 3, ""}, Case{"shiftresnet20", "none", 0, ""}}) {
    INFO(c.arch << " " << c.family << " shortcut " << c.shortcut);
    ModulePtr m = quantized_model(c.arch, c.family, c.bits, 5, c.shortcut);
    warm_batch_norms(*m, {16, 3, 32, 32}, 2);
    Generator gen(4);
    ExportResult r = export_model(*m, randn({32, 3, 32, 32}, DType::f32, Device::cpu, 0, 1, &gen));
    deploy::InferenceModel runtime(r.graph);
    // 19+ layers of uint8 activations: a few percent of the logits' norm.
    CHECK(logit_distance(*m, runtime, {8, 3, 32, 32}, 9) < 0.1);
  }
}

TEST_CASE("ImageNet ResNets export with the stem's max pool, projection shortcuts and bottlenecks",
          "[deploy][export]") {
  // Small images and few classes keep it fast; the graph is the torchvision one at any size.
  for (const char* arch : {"imagenet-resnet18", "imagenet-resnet50"}) {
    INFO(arch);
    manual_seed(3);
    ModelOptions o = model_info(arch).natural;
    o.image_size = 64;
    o.num_classes = 10;
    ModulePtr m = make_model(arch, o);
    Generator gen(3);
    QuantConfig q;
    q.method = "deepshift-ps";
    q.weight_bits = 5;
    quantize_model(*m, q, gen);
    warm_batch_norms(*m, {8, 3, 64, 64}, 2);
    ExportResult r = export_model(*m, randn({16, 3, 64, 64}, DType::f32, Device::cpu, 0, 1, &gen));
    bool stem_pool = false;
    for (const deploy::PoolSpec& p : r.graph.pools)
      stem_pool = stem_pool || (p.kind == deploy::PoolKind::max && p.kernel == 3 && p.stride == 2 && p.pad == 1);
    CHECK(stem_pool);
    CHECK(r.graph.convs.front().kh == 7);
    CHECK(r.graph.convs.back().name == "fc");
    deploy::InferenceModel runtime(r.graph);
    CHECK(logit_distance(*m, runtime, {4, 3, 64, 64}, 9) < 0.15);
  }
}

TEST_CASE("a deploy model survives the file round trip and bad files get one clear error", "[deploy][export]") {
  test::TempDir dir("deploy");
  ModulePtr m = quantized_model("mnist-conv", "deepshift-ps", 5, 1);
  Generator gen(3);
  ExportResult r = export_model(*m, randn({16, 1, 28, 28}, DType::f32, Device::cpu, 0, 1, &gen));
  const std::string path = dir / "m.safetensors";
  deploy::save_model(path, r.graph);
  deploy::InferenceModel loaded = deploy::InferenceModel::load(path);
  deploy::InferenceModel direct(r.graph);
  std::vector<float> x = randn({2, 1, 28, 28}, DType::f32, Device::cpu, 0, 1, &gen).to_vector<float>();
  CHECK(loaded.run(x.data(), 2) == direct.run(x.data(), 2));
  CHECK(loaded.graph().convs[2].code_bits == 4);  // 5-bit DeepShift: 15 levels of one sign-magnitude table

  // Truncation, a checkpoint instead of a deploy model, a code past the level table.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir / "cut.safetensors";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  CHECK_THROWS_WITH(deploy::load_model(cut), Catch::Contains("cut.safetensors"));
  deploy::Graph g = r.graph;
  g.convs[0].levels.resize(1);
  CHECK_THROWS_WITH(deploy::save_model(dir / "bad.safetensors", g), Catch::Contains("not in its level table"));
  deploy::Graph pooled = r.graph;  // a max pool whose window cannot fit the map
  pooled.pools[0].kernel = 40;
  CHECK_THROWS_WITH(deploy::save_model(dir / "bad.safetensors", pooled), Catch::Contains("max pool"));
  const std::string text = dir / "notes.txt";
  std::ofstream(text) << "not a model at all";
  CHECK_THROWS_WITH(deploy::load_model(text), Catch::Contains("notes.txt"));
}

TEST_CASE("export refuses models the runtime cannot run, naming them", "[deploy][export]") {
  ModulePtr m = make_model("mobilenetv2", model_info("mobilenetv2").natural);
  Generator gen(1);
  CHECK_THROWS_WITH(export_model(*m, randn({1, 3, 32, 32}, DType::f32, Device::cpu, 0, 1, &gen)),
                    Catch::Contains("does not support") && Catch::Contains("supported: mnist-fc"));
  CHECK_THROWS_WITH(export_model(*m, randn({3, 32, 32}, DType::f32, Device::cpu, 0, 1, &gen)),
                    Catch::Contains("[n, c, h, w]"));
}
