// APoT / uniform / 8-bit first-last quantizers against the golden vectors of the original code
// (both flavours; test/data/golden/apot_s3/README.md describes every file).
#include "golden.h"
#include "quant/apot.h"

using namespace sl;
using sl::test::check_values;
using sl::test::golden_path;

namespace {
Tensor golden(const std::string& name) { return sl::test::golden("apot_s3/" + name); }
Tensor param(const std::string& name) { return sl::test::golden_param("apot_s3/" + name); }

struct WeightCase {
  std::string tag;
  int bits;
  double alpha;
  APoTFlavour flavour;
  bool power;
  double grad_scale;
};

std::string alpha_str(double a) {
  std::string s = fmt::format("{:.2f}", a);
  while (s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
  return s;
}
}  // namespace

TEST_CASE("apot level sets equal the original's, exactly in float32", "[quant][apot]") {
  for (int b = 2; b <= 6; ++b) {
    INFO("B = " << b);
    Tensor want = golden("apot_levels_B" + std::to_string(b));
    check_values(from_vector(apot_levels(b).levels), want);
  }
  for (int b = 2; b <= 4; ++b) check_values(from_vector(apot_levels(b, false).levels), golden("apot_pot_levels_B" + std::to_string(b)));
  CHECK(sl::test::error_of([] { apot_levels(7); }).find("B = 2..6") != std::string::npos);
}

TEST_CASE("apot weight quantizer: value, codes, weight and alpha gradients", "[quant][apot]") {
  const auto in = APoTFlavour::imagenet, cf = APoTFlavour::cifar;
  std::vector<WeightCase> cases = {
      {"in", 2, 0.65, in, true, 0},  {"in", 3, 1.5, in, true, 0},   {"in", 4, 2.0, in, true, 0},
      {"in", 4, 3.0, in, true, 0},   {"in", 5, 2.5, in, true, 0},   {"in", 3, 1.5, in, false, 0},
      {"in", 4, 2.0, in, false, 0},  {"in", 4, 2.0, in, true, 0.05}, {"in", 2, 0.65, in, true, 0.05},
      {"cf", 2, 0.65, cf, true, 0},  {"cf", 3, 1.5, cf, true, 0},   {"cf", 4, 2.0, cf, true, 0},
      {"cf", 5, 2.5, cf, true, 0},
  };
  for (const WeightCase& c : cases) {
    std::string name = "apot_" + c.tag + "_w" + std::to_string(c.bits) + "_a" + alpha_str(c.alpha) +
                       (c.power ? "" : "_uniform") + (c.grad_scale != 0 ? "_gs0.05" : "");
    INFO(name);
    APoTOptions o;
    o.bits = c.bits;
    o.alpha = c.alpha;
    o.flavour = c.flavour;
    o.power = c.power;
    o.grad_scale = c.grad_scale;
    APoTWeight q(o);
    Tensor w = param("apot_W");
    Tensor wq = q.effective_weight(w);
    check_values(wq, golden(name + "_wq"), 1e-6);
    ExportedCodes codes = q.export_codes(w);
    check_values(mul(codes.sign.to(DType::f32), codes.index.to(DType::f32)), golden(name + "_code"));
    sum(mul(wq, golden("apot_GW"))).backward();
    check_values(w.grad(), golden(name + "_dW"), 1e-5);
    check_values(q.alpha().grad(), golden(name + "_dalpha"), 1e-5);
    auto names = q.named_parameters();
    REQUIRE(names.size() == 1);
    CHECK(names[0].first == "weight_alpha");
  }
}

TEST_CASE("apot activation quantizer: value, codes, input and alpha gradients", "[quant][apot]") {
  struct Case {
    std::string tag;
    int bits;
    double alpha;
    bool power;
  };
  for (const Case& c : std::vector<Case>{{"in", 2, 1.7, true}, {"in", 3, 1.7, true}, {"in", 4, 1.7, true},
                                         {"in", 5, 1.7, true}, {"in", 4, 6.0, true}, {"in", 3, 1.7, false},
                                         {"in", 4, 1.7, false}, {"cf", 2, 1.7, true}, {"cf", 3, 1.7, true},
                                         {"cf", 4, 1.7, true}, {"cf", 5, 1.7, true}, {"cf", 4, 8.0, true}}) {
    std::string name = "apot_" + c.tag + "_x" + std::to_string(c.bits) + "_a" + alpha_str(c.alpha) + (c.power ? "" : "_uniform");
    INFO(name);
    APoTOptions o;
    o.bits = c.bits;
    o.alpha = c.alpha;
    o.power = c.power;
    o.flavour = c.tag == "in" ? APoTFlavour::imagenet : APoTFlavour::cifar;
    APoTActivation q(o);
    Tensor x = param("apot_X");
    Tensor xq = q(x);
    check_values(xq, golden(name + "_xq"), 1e-6);
    sum(mul(xq, golden("apot_GX"))).backward();
    check_values(x.grad(), golden(name + "_dX"), 1e-6);
    check_values(q.alpha().grad(), golden(name + "_dalpha"), 1e-5);
    // The chosen level's rank (uniform: round(x * n)).
    NoGradGuard ng;
    Tensor c01 = clamp(div(x.detach(), scalar_tensor(c.alpha)), c.tag == "in" ? 0.0 : -INFINITY, 1);
    Tensor code;
    if (c.power) {
      project_to_levels(c01, apot_levels(c.bits), &code);
    } else {
      code = round(mul(clamp(c01, 0, 1), scalar_tensor(static_cast<double>((1 << c.bits) - 1))));
    }
    check_values(code.to(DType::f32), golden(name + "_code"));
  }
}

TEST_CASE("apot 8-bit first/last layer: signed max, no clamp, straight-through", "[quant][apot]") {
  APoTFirstLast q;
  Tensor w = param("apot_first_W");
  Tensor wq = q.effective_weight(w);
  check_values(wq, golden("apot_first_wq"));
  sum(mul(wq, golden("apot_first_G"))).backward();
  check_values(w.grad(), golden("apot_first_dW"));
  ExportedCodes codes = q.export_codes(w);
  check_values(codes.values(), golden("apot_first_wq_exact"), 1e-6);
}

TEST_CASE("apot 8-bit first/last layer: an all-negative weight takes its negative max as the scale", "[quant][apot]") {
  // Upstream's m = W.max() whatever its sign: W / m is positive and the layer is quantized, not refused.
  std::vector<float> v{-0.3f, -1.0f, -0.5f, -0.75f};
  APoTFirstLast q;
  Tensor w = from_vector(v, {2, 2});
  Tensor wq = q.effective_weight(w);
  std::vector<float> got = wq.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) {
    INFO(i);
    float m = -0.3f;
    float want = std::nearbyint(v[i] / m * 127.0f) / 127.0f * m;
    CHECK(got[i] == Approx(want).epsilon(1e-6));
    CHECK(got[i] < 0);
  }
  CHECK(q.scale() == Approx(0.3 / 127).epsilon(1e-6));
  ExportedCodes codes = q.export_codes(w);
  check_values(codes.values(), wq, 1e-6);
  // No scale without a nonzero maximum.
  Tensor zero_max = from_vector(std::vector<float>{0, -1}, {2});
  CHECK(sl::test::error_of([&] { q.effective_weight(zero_max); }).find("nonzero and finite") != std::string::npos);
}

TEST_CASE("apot 2-bit weights: the cifar flavour's sign() turns a -0 normalised weight into +0", "[quant][apot]") {
  // Mean exactly 0, so the normalised third element is -0 - 0 = -0.
  Tensor w = from_vector(std::vector<float>{1, -1, -0.0f, 0.5f, -0.5f}, {5});
  for (APoTFlavour flavour : {APoTFlavour::cifar, APoTFlavour::imagenet}) {
    bool cifar = flavour == APoTFlavour::cifar;
    INFO((cifar ? "cifar" : "imagenet"));
    APoTOptions o;
    o.bits = 2;
    o.flavour = flavour;
    o.alpha = 1.0;
    APoTWeight q(o);
    std::vector<float> got = q.effective_weight(w).to_vector<float>();
    CHECK(got[2] == 0.0f);
    if (cifar) CHECK(!std::signbit(got[2]));  // (imagenet normalises through batch norm's x * a + b: +0 too)
    CHECK(got[0] == 1.0f);  // 1 / std(w) > 1/2: the level +1 (times alpha = 1)
    CHECK(got[1] == -1.0f);
  }
}

TEST_CASE("apot rejects bit widths without a level set and non-positive thresholds", "[quant][apot]") {
  APoTOptions o;
  o.bits = 8;
  CHECK(sl::test::error_of([&] { APoTWeight q(o); }).find("[2, 7]") != std::string::npos);
  o.bits = 1;
  CHECK(sl::test::error_of([&] { APoTWeight q(o); }).find("[2, 8]") != std::string::npos);
  o.bits = 4;
  APoTWeight q(o);
  copy_data(q.alpha(), scalar_tensor(-1.0));
  CHECK(sl::test::error_of([&] { q.effective_weight(randn({4, 3})); }).find("weight_alpha became -1") !=
        std::string::npos);
}
