// Parity of whole computations: every quantizer family's effective weight (exact: it is a level)
// and gradients, and whole models (ResNet-20, MNIST-conv, MobileNetV2) forward, backward and one
// SGD step, moved with Module::to.
#include <cmath>
#include <map>

#include "layers/models/registry.h"
#include "parity.h"
#include "quant/apot.h"
#include "quant/deepshift.h"
#include "quant/denseshift.h"
#include "quant/s3.h"
#include "train/sgd.h"

using namespace sl;
using namespace sl::parity;

namespace {

std::map<std::string, Tensor> state_of(const Module& m) {
  std::map<std::string, Tensor> s;
  for (const auto& [name, t] : m.state_dict()) s[name] = t;
  return s;
}

// A copy of `ref`'s state in `twin` (built the same way), moved to the device under test.
void mirror(Module& twin, const Module& ref) {
  twin.load_state_dict(state_of(ref));
  twin.to(device());
}

void check_grads(const Module& ref, const Module& twin, double tol) {
  auto a = ref.named_parameters(), b = twin.named_parameters();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("parameter " << a[i].first);
    REQUIRE(a[i].first == b[i].first);
    if (!a[i].second.grad().defined()) {
      CHECK_FALSE(b[i].second.grad().defined());
      continue;
    }
    check_close(a[i].second.grad(), b[i].second.grad(), tol, a[i].first + ".grad");
  }
}

void check_state(const Module& ref, const Module& twin, double tol) {
  auto a = ref.state_dict(), b = twin.state_dict();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) check_close(a[i].second, b[i].second, tol, a[i].first);
}

// Weights sign * 2^(k + f) with integer k in [-6, -1] and |f| <= 0.4: log2|w| is never near a
// rounding boundary, so power-of-two rounding cannot differ by a last-bit difference of log.
Tensor shift_friendly(const Shape& s, uint64_t seed) {
  std::vector<double> k = uniform(s, seed, -6, 0).to_vector<double>();
  std::vector<double> f = uniform(s, seed + 1, -0.4, 0.4).to_vector<double>();
  std::vector<double> sg = uniform(s, seed + 2, -1, 1).to_vector<double>();
  std::vector<float> w(k.size());
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = static_cast<float>((sg[i] < 0 ? -1 : 1) * std::exp2(std::floor(k[i]) + f[i]));
  return from_vector(w, s);
}

// Runs a weight quantizer on the CPU and on the device: effective weight exact, gradients of the
// weight and of every latent parameter within tolerance. `ref` and `twin` must be built identically.
void check_quantizer(WeightQuantizer& ref, WeightQuantizer& twin, const Tensor& weight, const std::string& what) {
  INFO(what);
  mirror(twin, ref);
  Tensor wc = weight.defined() ? leaf(weight.clone()) : Tensor();
  Tensor wd = weight.defined() ? dev_leaf(wc) : Tensor();
  Tensor qc = ref.effective_weight(wc), qd = twin.effective_weight(wd);
  check_exact(qc, qd, what + " effective weight");
  Tensor g = uniform(qc.shape(), 77);
  sum(mul(qc, g)).backward();
  sum(mul(qd, dev(g))).backward();
  if (weight.defined()) {
    check_close(wc.grad(), wd.grad(), kTolF32, what + " weight gradient");
    check_exact(wc.detach(), wd.detach(), what + " master weight after the in-place clamp");
  }
  check_grads(ref, twin, kTolF32);
}

}  // namespace

TEST_CASE("parity: DeepShift-Q and DeepShift-PS quantizers, stochastic rounding", "[parity][quant][deepshift]") {
  Tensor w = shift_friendly({16, 8, 3, 3}, 1);
  for (int bits : {5, 4, 3, 2}) {
    DeepShiftQ a(bits, Rounding::deterministic, false), b(bits, Rounding::deterministic, false);
    check_quantizer(a, b, w, "deepshift-q " + std::to_string(bits) + " bits");
  }
  {
    DeepShiftQ a(5, Rounding::stochastic, false), b(5, Rounding::stochastic, false);
    manual_seed(3);
    Tensor qc = a.effective_weight(w.clone());
    manual_seed(3);
    Tensor qd = b.effective_weight(dev(w));
    check_exact(qc, qd, "deepshift-q stochastic rounding");
  }
  for (int bits : {5, 3}) {
    DeepShiftPS a(w, bits, Rounding::deterministic, false), b(w, bits, Rounding::deterministic, false);
    // Shifts k + f away from .5, signs away from the rounding boundaries of round(S).
    std::vector<double> s = uniform(w.shape(), 5, -1.4, 1.4).to_vector<double>();
    for (double& v : s) v = std::abs(std::abs(v) - 0.5) < 0.1 ? v * 0.5 : v;
    copy_data(a.shift(), sub(log2(abs(w)), scalar_tensor(0.0)));
    copy_data(a.sign(), from_vector(std::vector<float>(s.begin(), s.end()), w.shape()));
    check_quantizer(a, b, Tensor(), "deepshift-ps " + std::to_string(bits) + " bits");
  }
  // Fixed-point activations: the op-case table.
}

TEST_CASE("parity: APoT weights, activations and the 8-bit first/last layer", "[parity][quant][apot]") {
  Tensor w = normal({32, 16, 3, 3}, 7);
  for (APoTFlavour fl : {APoTFlavour::imagenet, APoTFlavour::cifar}) {
    for (auto [bits, power] :
         std::vector<std::pair<int, bool>>{{2, true}, {3, true}, {4, true}, {5, true}, {4, false}}) {
      if (!power && fl == APoTFlavour::cifar) continue;  // the uniform variant is imagenet-only upstream
      APoTOptions o;
      o.bits = bits;
      o.power = power;
      o.flavour = fl;
      o.grad_scale = bits == 4 ? 0.5 : 0;
      APoTWeight a(o), b(o);
      check_quantizer(a, b, w,
                      fmt::format("apot weight {} bits{} {}", bits, power ? "" : " uniform",
                                  fl == APoTFlavour::imagenet ? "imagenet" : "cifar"));
    }
    for (int bits : {2, 3, 4}) {
      APoTOptions o;
      o.bits = bits;
      o.flavour = fl;
      o.alpha = 6.0;
      APoTActivation a(o), b(o);
      mirror(b, a);
      Tensor x = uniform({4, 8, 5, 5}, 8, -2, 8);
      Tensor xc = leaf(x.clone()), xd = dev_leaf(xc);
      Tensor yc = a(xc), yd = b(xd);
      check_exact(yc, yd, "apot activation");
      Tensor g = uniform(x.shape(), 9);
      sum(mul(yc, g)).backward();
      sum(mul(yd, dev(g))).backward();
      check_close(xc.grad(), xd.grad(), kTolF32, "apot activation input gradient");
      check_close(a.alpha().grad(), b.alpha().grad(), kTolF32, "apot activation alpha gradient");
    }
  }
  APoTFirstLast a, b;
  check_quantizer(a, b, normal({10, 64}, 10), "apot 8-bit first/last");
}

TEST_CASE("parity: S3 and DenseShift reconstructions", "[parity][quant][s3][denseshift]") {
  for (int bits : {3, 4}) {
    for (S3Init init : {S3Init::dense, S3Init::he}) {
      Tensor w = zeros({16, 8, 3, 3});
      Generator g1(11), g2(11);
      S3Weight a(w, bits, init, g1);
      Tensor w2 = zeros({16, 8, 3, 3});
      S3Weight b(w2, bits, init, g2);
      check_quantizer(a, b, w, "s3 " + std::to_string(bits) + " bits");
    }
    Tensor w = zeros({16, 8, 3, 3}), w2 = zeros({16, 8, 3, 3});
    Generator g1(12), g2(12);
    DenseShiftWeight a(w, bits, g1), b(w2, bits, g2);
    check_quantizer(a, b, w, "denseshift " + std::to_string(bits) + " bits");
  }
}

TEST_CASE("parity: whole models, forward, backward and an SGD step", "[parity][models]") {
  struct Case {
    std::string arch;
    ModelOptions options;
    Shape input;
  };
  for (const Case& c : std::vector<Case>{{"mnist-conv", {10, 1, 28}, {4, 1, 28, 28}},
                                         {"resnet20", {}, {4, 3, 32, 32}},
                                         {"mobilenetv2", {}, {2, 3, 32, 32}}}) {
    INFO("model " << c.arch);
    manual_seed(1);
    ModulePtr ref = make_model(c.arch, c.options);
    ModulePtr twin = make_model(c.arch, c.options);
    mirror(*twin, *ref);
    Tensor x = uniform(c.input, 13);
    std::vector<int32_t> lv;
    for (int64_t i = 0; i < c.input[0]; ++i) lv.push_back(static_cast<int32_t>((3 * i + 1) % 10));
    Tensor labels = from_vector(lv);

    Tensor yc = (*ref)(x), yd = (*twin)(dev(x));
    check_close(yc, yd, kTolF32, "logits (train mode)");
    Tensor lc = cross_entropy(yc, labels), ld = cross_entropy(yd, dev(labels));
    check_close(lc, ld, kTolF32, "loss");
    lc.backward();
    ld.backward();
    check_grads(*ref, *twin, kTolF32);
    check_state(*ref, *twin, kTolF32);  // batch-norm running statistics

    auto opts = OptimizerOptions::sgd(0.1).momentum(0.9).weight_decay(5e-4);
    SGD sc(ref->named_parameters(), opts), sd(twin->named_parameters(), opts);
    sc.step();
    sd.step();
    check_state(*ref, *twin, kTolF32);

    ref->eval();
    twin->eval();
    NoGradGuard no_grad;
    check_close((*ref)(x), (*twin)(dev(x)), kTolF32, "logits (eval mode, after the step)");
  }
}
