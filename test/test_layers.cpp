// Layers against PyTorch reference forwards (test/data/layers, made by gen_layers.py), initialiser
// statistics, batch-norm buffers, the quantizer hooks, names, and the MAC counter.
#include <cmath>
#include <set>

#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/flops.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/pooling.h"
#include "layers/sequential.h"
#include "zoo_helpers.h"

using namespace sl;
using sl::test::check_close;
using sl::test::error_of;
using sl::test::has_name;
using sl::test::load_data;

namespace {

// Loads <case>_<name>.npy into every floating tensor of the module, runs the input, compares.
Tensor run_case(Module& m, const std::string& name, bool train = true) {
  std::map<std::string, Tensor> state;
  for (const auto& kv : m.state_dict())
    state[kv.first] =
        kv.second.dtype() == DType::i64 ? kv.second : load_data("layers/" + name + "_" + kv.first + ".npy");
  m.load_state_dict(state);
  m.train(train);
  return m.forward(load_data("layers/" + name + "_x.npy"));
}

void check_case(Module& m, const std::string& name, double atol = 1e-5) {
  INFO("case " << name);
  check_close(run_case(m, name), load_data("layers/" + name + "_y.npy"), atol, 1e-5);
}

}  // namespace

TEST_CASE("Linear and Conv2d forwards match PyTorch", "[layers]") {
  Linear lin(LinearOptions(5, 4));
  check_case(lin, "linear");
  Linear lin3(LinearOptions(5, 4).bias(false));
  check_case(lin3, "linear_nobias_3d");
  Conv2d basic(Conv2dOptions(3, 4, 3).padding(1));
  check_case(basic, "conv_basic");
  Conv2d sd(Conv2dOptions(4, 6, {3, 2}).stride({2, 1}).padding({1, 0}).dilation({2, 1}).bias(false));
  check_case(sd, "conv_stride_dilation");
  Conv2d grouped(Conv2dOptions(6, 4, 3).stride(2).padding(1).groups(2));
  check_case(grouped, "conv_groups");
  Conv2d dw(Conv2dOptions(8, 8, 3).padding(1).groups(8).bias(false));
  check_case(dw, "conv_depthwise");
  CHECK(dw.options().groups() == 8);
  CHECK(dw.weight().shape() == Shape{8, 1, 3, 3});
  CHECK_FALSE(dw.has_bias());
}

TEST_CASE("pooling, activations and flatten match PyTorch", "[layers]") {
  MaxPool2d mp(Pool2dOptions(3).stride(2).padding(1));
  check_case(mp, "maxpool", 0);
  MaxPool2d mp2(2);
  check_case(mp2, "maxpool_default_stride", 0);
  AvgPool2d ap(Pool2dOptions({3, 2}).stride(2).padding(1));
  check_case(ap, "avgpool_pad");
  AvgPool2d ape(Pool2dOptions(3).stride(2).padding(1).count_include_pad(false));
  check_case(ape, "avgpool_exclude_pad");
  AdaptiveAvgPool2d ad({3, 4});
  check_case(ad, "adaptive_avgpool");
  ReLU r;
  check_case(r, "relu", 0);
  ReLU6 r6;
  check_case(r6, "relu6", 0);
  Flatten f;
  check_case(f, "flatten", 0);
}

TEST_CASE("BatchNorm1d/2d: training forward, running statistics and eval forward match PyTorch",
          "[layers][batchnorm]") {
  struct Case {
    std::string name;
    std::shared_ptr<BatchNormBase> bn;
  };
  for (const Case& c : {Case{"bn2d", std::make_shared<BatchNorm2d>(3)}, Case{"bn1d", std::make_shared<BatchNorm1d>(4)},
                        Case{"bn1d_3d", std::make_shared<BatchNorm1d>(BatchNormOptions(4).momentum(0.3).eps(1e-3))}}) {
    INFO("case " << c.name);
    Tensor y = run_case(*c.bn, c.name, true);
    check_close(y, load_data("layers/" + c.name + "_y.npy"), 1e-5, 1e-5);
    check_close(c.bn->running_mean(), load_data("layers/" + c.name + "_running_mean_after.npy"), 1e-6, 1e-6);
    check_close(c.bn->running_var(), load_data("layers/" + c.name + "_running_var_after.npy"), 1e-6, 1e-6);
    CHECK(c.bn->num_batches_tracked().item() ==
          load_data("layers/" + c.name + "_num_batches_tracked_after.npy").item());
    c.bn->eval();
    Tensor x = load_data("layers/" + c.name + "_x.npy");
    check_close(c.bn->forward(x), load_data("layers/" + c.name + "_y_eval.npy"), 1e-5, 1e-5);
  }
}

TEST_CASE("BatchNorm: PyTorch's names, dtypes and defaults, num_batches_tracked counts training forwards only",
          "[layers][batchnorm]") {
  BatchNorm2d bn(3);
  NamedTensors sd = bn.state_dict();
  std::vector<std::string> names;
  for (const auto& kv : sd) names.push_back(kv.first);
  CHECK(names == std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  CHECK(bn.parameter_count() == 6);
  CHECK(bn.num_batches_tracked().dtype() == DType::i64);
  CHECK(bn.num_batches_tracked().shape().empty());
  CHECK(bn.weight().to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(bn.bias().to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(bn.running_var().to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(bn.options().momentum() == 0.1);
  CHECK(bn.options().eps() == 1e-5);
  Tensor x = test::randf({4, 3, 2, 2}, 3);
  bn.forward(x);
  bn.forward(x);
  CHECK(bn.num_batches_tracked().item() == 2);
  bn.eval();
  std::vector<float> rm = bn.running_mean().to_vector<float>();
  bn.forward(x);
  CHECK(bn.num_batches_tracked().item() == 2);
  CHECK(bn.running_mean().to_vector<float>() == rm);  // eval leaves the statistics alone
  bn.reset_running_stats();
  CHECK(bn.num_batches_tracked().item() == 0);
  CHECK(bn.running_mean().to_vector<float>() == std::vector<float>{0, 0, 0});

  // Without running statistics: no buffers, batch statistics even in eval mode.
  BatchNorm2d nostats(BatchNormOptions(3).track_running_stats(false).affine(false));
  CHECK(nostats.state_dict().empty());
  nostats.eval();
  Tensor y = nostats.forward(x);
  CHECK(std::abs(mean(y).item()) < 1e-5);

  CHECK(error_of([&] {
          bn.forward(test::randf({4, 3}, 1));
        }).find("BatchNorm2d: expected input [n, c, h, w]") != std::string::npos);
  CHECK(error_of([&] { bn.forward(test::randf({2, 5, 2, 2}, 1)); }).find("has 5 channels") != std::string::npos);
  CHECK(error_of([] { BatchNorm1d b(0); }).find("num_features must be positive") != std::string::npos);
}

TEST_CASE("default init: kaiming-uniform(a=sqrt(5)) weights and 1/sqrt(fan_in) biases, reproducible by seed",
          "[layers][init]") {
  manual_seed(11);
  Linear lin(256, 128);
  Conv2d conv(Conv2dOptions(16, 32, 3).groups(2));  // fan_in = 8 * 9 = 72
  auto check_uniform = [](const Tensor& t, double bound) {
    std::vector<float> v = t.to_vector<float>();
    double lo = 1e9, hi = -1e9, sq = 0;
    for (float f : v) {
      lo = std::min<double>(lo, f);
      hi = std::max<double>(hi, f);
      sq += static_cast<double>(f) * f;
    }
    CHECK(lo >= -bound);
    CHECK(hi < bound);
    if (v.size() > 1000) {  // the bound is reached, not a narrower distribution, and the variance is b^2 / 3
      CHECK(lo < -0.99 * bound);
      CHECK(hi > 0.99 * bound);
      CHECK(sq / static_cast<double>(v.size()) == Approx(bound * bound / 3).epsilon(0.05));
    }
  };
  check_uniform(lin.weight(), 1 / 16.0);
  check_uniform(lin.bias(), 1 / 16.0);
  check_uniform(conv.weight(), 1 / std::sqrt(72.0));
  check_uniform(conv.bias(), 1 / std::sqrt(72.0));
  manual_seed(11);
  Linear again(256, 128);
  CHECK(again.weight().to_vector<float>() == lin.weight().to_vector<float>());
  Generator g(5);
  Linear own(LinearOptions(4, 3), g);
  CHECK(g.offset() > 0);  // drew from the given generator

  auto [fi, fo] = init::fan_in_and_fan_out(conv.weight());
  CHECK(fi == 72);
  CHECK(fo == 32 * 9);
  Tensor w = Tensor::empty({64, 32, 3, 3});
  init::kaiming_normal_(w, 0, init::FanMode::fan_out, "relu");
  std::vector<float> v = w.to_vector<float>();
  double sq = 0, s = 0;
  for (float f : v) {
    s += f;
    sq += static_cast<double>(f) * f;
  }
  double n = static_cast<double>(v.size());
  CHECK(std::abs(s / n) < 0.01);
  CHECK(std::sqrt(sq / n) == Approx(std::sqrt(2.0 / (64 * 9))).epsilon(0.03));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) == Approx(std::sqrt(1.0 / 3)));
  CHECK(init::calculate_gain("tanh") == Approx(5.0 / 3));
  CHECK(error_of([] { init::calculate_gain("swish"); }).find("unknown nonlinearity 'swish'") != std::string::npos);
  Tensor c = Tensor::empty({3});
  init::constant_(c, 2.5);
  CHECK(c.to_vector<float>() == std::vector<float>{2.5f, 2.5f, 2.5f});
}

namespace {
// A test parametrization: w_eff = weight * scale (a learnable scalar), b_eff = bias + 1.
class ScaledWeight : public WeightParametrization {
 public:
  ScaledWeight() { scale = register_parameter("scale", full({}, 2.0)); }
  std::string type_name() const override { return "ScaledWeight"; }
  Tensor effective_weight(const Tensor& w) override { return w * scale; }
  Tensor effective_bias(const Tensor& b) override { return b.defined() ? b + 1.0 : b; }
  Tensor scale;
};

// Replaces the weight entirely (as DeepShift-PS does with shift / sign): w = 2^shift.
class PowerOfTwoWeight : public WeightParametrization {
 public:
  explicit PowerOfTwoWeight(const Tensor& w) { shift = register_parameter("shift", round(log2(abs(w.detach())))); }
  std::string type_name() const override { return "PowerOfTwoWeight"; }
  Tensor effective_weight(const Tensor&) override { return exp2(shift); }
  Tensor shift;
};

// Rounds inputs to a 0.5 grid with a straight-through gradient, and owns a buffer.
class HalfGrid : public InputQuantizer {
 public:
  HalfGrid() { register_buffer("act_alpha", full({}, 0.5)); }
  std::string type_name() const override { return "HalfGrid"; }
  Tensor forward(const Tensor& x) override {
    return straight_through(x, [](const Tensor& v) { return round(v * 2.0) / 2.0; });
  }
};

class WeightNamed : public WeightParametrization {
 public:
  WeightNamed() { register_parameter("weight", zeros({1})); }
  std::string type_name() const override { return "WeightNamed"; }
  Tensor effective_weight(const Tensor& w) override { return w; }
};
}  // namespace

TEST_CASE("quantizer hooks: parametrization and input quantizer are inline children with the layer's prefix",
          "[layers][hooks]") {
  Sequential net;
  auto conv = std::make_shared<Conv2d>(Conv2dOptions(2, 3, 3).padding(1));
  net.push_back("conv1", conv);
  Tensor x = test::randf({2, 2, 5, 5}, 4);
  Tensor plain = conv->forward(x);

  auto p = std::make_shared<ScaledWeight>();
  conv->set_weight_parametrization(p);
  auto iq = std::make_shared<HalfGrid>();
  conv->set_input_quantizer(iq);
  NamedTensors sd = net.state_dict();
  CHECK(has_name(sd, "conv1.weight"));
  CHECK(has_name(sd, "conv1.bias"));
  CHECK(has_name(sd, "conv1.scale"));
  CHECK(has_name(sd, "conv1.act_alpha"));
  CHECK(net.parameter_count() == conv->weight().numel() + 3 + 1);

  // y = conv2d(round_half(x), 2 w, b + 1)
  Tensor xq = round(x * 2.0) / 2.0;
  Tensor want = conv2d(xq, conv->weight().detach() * 2.0, conv->bias().detach() + 1.0, conv->args());
  Tensor y = net.forward(x);
  check_close(y, want, 1e-5);
  // Gradients reach the layer's weight and the parametrization's scale.
  sum(y).backward();
  REQUIRE(conv->weight().grad().defined());
  REQUIRE(p->scale.grad().defined());

  // Replacing the parametrization unregisters the old one; nullptr removes the hook.
  Tensor w0 = conv->weight().detach().clone();
  auto pow2 = std::make_shared<PowerOfTwoWeight>(conv->weight());
  conv->set_weight_parametrization(pow2);
  conv->remove_weight();
  CHECK_FALSE(conv->weight().defined());
  sd = net.state_dict();
  CHECK_FALSE(has_name(sd, "conv1.weight"));
  CHECK_FALSE(has_name(sd, "conv1.scale"));
  CHECK(has_name(sd, "conv1.shift"));
  conv->set_input_quantizer(nullptr);
  CHECK_FALSE(has_name(net.state_dict(), "conv1.act_alpha"));
  Tensor y2 = net.forward(x);
  check_close(y2, conv2d(x, exp2(round(log2(abs(w0)))), conv->bias().detach(), conv->args()), 1e-5);

  conv->set_weight_parametrization(nullptr);
  CHECK(error_of([&] { net.forward(x); }).find("the weight was removed and no weight parametrization") !=
        std::string::npos);
  CHECK(error_of([&] { conv->remove_weight(); }).find("already removed") != std::string::npos);

  Linear lin(3, 2);
  CHECK(error_of([&] {
          lin.set_weight_parametrization(std::make_shared<WeightNamed>());
        }).find("registers 'weight', which the layer already has") != std::string::npos);
  CHECK(lin.named_children().empty());
}

TEST_CASE("Linear hooks: the same forward rule", "[layers][hooks]") {
  Linear lin(4, 3);
  lin.set_weight_parametrization(std::make_shared<ScaledWeight>());
  Tensor x = test::randf({5, 4}, 9);
  check_close(lin.forward(x), linear(x, lin.weight().detach() * 2.0, lin.bias().detach() + 1.0), 1e-6);
  CHECK(has_name(lin.named_parameters(), "scale"));
}

TEST_CASE("Sequential names children by index, state_dict and load_state_dict use dotted names", "[layers]") {
  auto inner = std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(Conv2dOptions(1, 2, 3)), std::make_shared<BatchNorm2d>(2)});
  Sequential net{inner, std::make_shared<ReLU>(), std::make_shared<Flatten>(), std::make_shared<Linear>(8, 3)};
  std::set<std::string> names;
  for (const auto& kv : net.state_dict()) names.insert(kv.first);
  CHECK(names == std::set<std::string>{"0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias", "0.1.running_mean",
                                       "0.1.running_var", "0.1.num_batches_tracked", "3.weight", "3.bias"});
  CHECK(net.size() == 4);
  CHECK(net.at<Linear>(3)->options().out_features() == 3);
  CHECK(error_of([&] { net.at<Conv2d>(1); }).find("child 1 is a ReLU") != std::string::npos);
  CHECK(error_of([&] { net[7]; }).find("index 7 is out of range") != std::string::npos);
  Tensor y = net.forward(test::randf({2, 1, 4, 4}, 2));
  CHECK(y.shape() == Shape{2, 3});
  // Round trip into a fresh copy.
  auto inner2 = std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(Conv2dOptions(1, 2, 3)), std::make_shared<BatchNorm2d>(2)});
  Sequential net2{inner2, std::make_shared<ReLU>(), std::make_shared<Flatten>(), std::make_shared<Linear>(8, 3)};
  net2.load_state_dict(test::to_map(net.state_dict()));
  net.eval();
  net2.eval();
  Tensor x = test::randf({2, 1, 4, 4}, 3);
  CHECK(net.forward(x).to_vector<float>() == net2.forward(x).to_vector<float>());
  CHECK(Sequential().forward(x).is_same(x));  // an empty Sequential is the identity
}

TEST_CASE("Dropout zeroes about p of the values in training, scales the rest, and is the identity in eval",
          "[layers]") {
  Dropout d(0.25);
  Tensor x = ones({20000});
  Tensor y = d.forward(x);
  std::vector<float> v = y.to_vector<float>();
  size_t zeros_n = 0, scaled = 0;
  for (float f : v) {
    zeros_n += f == 0;
    scaled += std::abs(f - 1 / 0.75f) < 1e-6f;
  }
  CHECK(zeros_n + scaled == v.size());
  CHECK(static_cast<double>(zeros_n) / v.size() == Approx(0.25).margin(0.02));
  d.eval();
  CHECK(d.forward(x).to_vector<float>() == x.to_vector<float>());
  CHECK(error_of([] { Dropout bad(1.5); }).find("probability must be in [0, 1]") != std::string::npos);
}

TEST_CASE("layer option errors name the layer and the option", "[layers][errors]") {
  CHECK(error_of([] { Conv2d c(Conv2dOptions(3, 4, 3).groups(2)); }).find("divisible by groups 2") !=
        std::string::npos);
  CHECK(error_of([] { Conv2d c(Conv2dOptions(3, 4, 0)); }).find("kernel_size must be positive") != std::string::npos);
  CHECK(error_of([] { Linear l(0, 3); }).find("in_features must be positive") != std::string::npos);
  CHECK(error_of([] { MaxPool2d m(Pool2dOptions(2).padding(2)); }).find("at most half the kernel size") !=
        std::string::npos);
  Conv2d c(Conv2dOptions(3, 4, 5));
  CHECK(error_of([&] {
          c.forward(test::randf({1, 3, 3, 3}, 1));
        }).find("input 3x3 is smaller than the kernel") != std::string::npos);
  CHECK(error_of([&] {
          c.forward(test::randf({1, 2, 8, 8}, 1));
        }).find("expected input [n, 3, h, w]") != std::string::npos);
  Linear l(4, 2);
  CHECK(error_of([&] { l.forward(test::randf({3, 5}, 1)); }).find("does not end in 4 features") != std::string::npos);
}

TEST_CASE("count_macs sums conv and linear multiply-accumulates and restores training mode", "[layers][flops]") {
  Sequential net;
  net.push_back("conv", std::make_shared<Conv2d>(Conv2dOptions(3, 8, 3).padding(1).stride(2)));  // out 8x8x8
  net.push_back("bn", std::make_shared<BatchNorm2d>(8));
  net.push_back("dw", std::make_shared<Conv2d>(Conv2dOptions(8, 8, 3).padding(1).groups(8)));
  net.push_back("flat", std::make_shared<Flatten>());
  net.push_back("fc", std::make_shared<Linear>(8 * 8 * 8, 10));
  net.train();
  std::vector<LayerMacs> per = layer_macs(net, {2, 3, 16, 16});
  REQUIRE(per.size() == 3);
  CHECK(per[0].name == "conv");
  CHECK(per[0].type == "Conv2d");
  CHECK(per[0].macs == 2 * 8 * 8 * 8 * 3 * 9);
  CHECK(per[0].output == Shape{2, 8, 8, 8});
  CHECK(per[1].macs == 2 * 8 * 8 * 8 * 1 * 9);
  CHECK(per[2].macs == 2 * 512 * 10);
  CHECK(count_macs(net, {1, 3, 16, 16}) == (per[0].macs + per[1].macs + per[2].macs) / 2);
  CHECK(net.is_training());
  CHECK(net.child("bn")->is_training());
  auto bn = std::dynamic_pointer_cast<BatchNorm2d>(net.child("bn"));
  CHECK(bn->num_batches_tracked().item() == 0);  // the counting forward ran in eval mode
}
