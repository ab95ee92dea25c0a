// Optimizers against PyTorch 1.13 trajectories (test/data/optim, made by gen_optim.py) and DeepShift's
// RAdam / Ranger golden trajectories (test/data/golden/deepshift); parameter groups, name-keyed state
// round trips, in-place updates and errors.
#include <cmath>
#include <limits>

#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "train/adam.h"
#include "train/radam.h"
#include "train/sgd.h"
#include "zoo_helpers.h"

using namespace sl;
using sl::test::check_close;
using sl::test::error_of;
using sl::test::load_data;

namespace {

using Maker = std::function<std::unique_ptr<Optimizer>(const NamedTensors&)>;

// Feeds row t of opt_grads.npy as the gradient of step t+1 and returns the parameter after each step.
// With resume_at >= 0 the optimizer is saved, rebuilt and restored before that step.
Tensor trajectory(const Maker& make, int64_t steps = 12, int64_t resume_at = -1) {
  Tensor p0 = load_data("golden/deepshift/opt_p0.npy"), grads = load_data("golden/deepshift/opt_grads.npy");
  Tensor p = p0.clone();
  p.requires_grad_();
  NamedTensors params{{"w", p}};
  std::unique_ptr<Optimizer> opt = make(params);
  std::vector<float> out;
  for (int64_t t = 0; t < steps; ++t) {
    if (t == resume_at) {
      auto state = test::to_map(opt->state_dict());
      opt = make(params);
      opt->load_state_dict(state);
    }
    p.set_grad(grads.slice(t, t + 1).reshape({6}).clone());
    opt->step();
    std::vector<float> v = p.detach().to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return from_vector(out, {steps, 6});
}

template <class Opt>
Maker maker(const OptimizerOptions& o) {
  return [o](const NamedTensors& params) { return std::make_unique<Opt>(params, o); };
}

// Float32 trajectories: PyTorch's kernels and ours may round a multiply-add differently, so allow
// about one ulp (most elements agree bit for bit).
constexpr double kAtol = 1e-9, kRtol = 2.5e-7;

void check_trajectory(const Maker& make, const std::string& file, int64_t resume_at = -1) {
  INFO("expected " << file << (resume_at >= 0 ? ", resumed before step " + std::to_string(resume_at + 1) : ""));
  check_close(trajectory(make, 12, resume_at), load_data(file), kAtol, kRtol);
}

}  // namespace

TEST_CASE("SGD matches torch.optim.SGD step for step (momentum, dampening, nesterov, weight decay)", "[optim]") {
  using O = OptimizerOptions;
  check_trajectory(maker<SGD>(O::sgd(0.1)), "optim/sgd_plain.npy");
  check_trajectory(maker<SGD>(O::sgd(0.1).momentum(0.9).weight_decay(1e-4)), "optim/sgd_momentum_wd.npy");
  check_trajectory(maker<SGD>(O::sgd(0.05).momentum(0.9).dampening(0.1).weight_decay(5e-4)), "optim/sgd_dampening.npy");
  check_trajectory(maker<SGD>(O::sgd(0.1).momentum(0.9).nesterov(true).weight_decay(5e-4)), "optim/sgd_nesterov.npy");
}

TEST_CASE("Adam and AdamW match torch.optim step for step (weight decay, betas, eps, amsgrad)", "[optim]") {
  using O = OptimizerOptions;
  check_trajectory(maker<Adam>(O::adam(0.01)), "optim/adam.npy");
  check_trajectory(maker<Adam>(O::adam(0.01).beta1(0.8).beta2(0.99).eps(1e-6).weight_decay(1e-2)),
                   "optim/adam_wd_betas.npy");
  check_trajectory(maker<Adam>(O::adam(0.01).weight_decay(1e-3).amsgrad(true)), "optim/adam_amsgrad.npy");
  check_trajectory(maker<AdamW>(O::adamw(0.01).weight_decay(0.1)), "optim/adamw.npy");
  check_trajectory(maker<AdamW>(O::adamw(0.02).beta1(0.85).beta2(0.995).weight_decay(0.05).amsgrad(true)),
                   "optim/adamw_amsgrad.npy");
  CHECK(OptimizerOptions::adamw().weight_decay() == 1e-2);  // torch's AdamW default
}

TEST_CASE("RAdam and Ranger match DeepShift's optimizers (golden trajectories)", "[optim]") {
  // README: RAdam(lr=0.01, betas=(0.9,0.999), eps=1e-8, wd=1e-4); steps 1-5 take the un-rectified branch.
  check_trajectory(maker<RAdam>(OptimizerOptions::radam(0.01).weight_decay(1e-4)), "golden/deepshift/radam_traj.npy");
  // Ranger(lr=0.01, alpha=0.5, k=6, N_sma_threshold=5, betas=(0.95,0.999), eps=1e-5, wd=1e-4): syncs at 6 and 12.
  check_trajectory(maker<Ranger>(OptimizerOptions::ranger(0.01).weight_decay(1e-4)),
                   "golden/deepshift/ranger_traj.npy");
  OptimizerOptions d = OptimizerOptions::ranger();
  CHECK(d.lr() == 1e-3);
  CHECK(d.alpha() == 0.5);
  CHECK(d.k() == 6);
  CHECK(d.n_sma_threshold() == 5);
  CHECK(d.beta1() == 0.95);
  CHECK(d.beta2() == 0.999);
  CHECK(d.eps() == 1e-5);
  CHECK(d.weight_decay() == 0);
}

TEST_CASE("state_dict / load_state_dict: a run resumed mid-way continues the same trajectory", "[optim]") {
  using O = OptimizerOptions;
  // Resume after step 4: Ranger's lookahead (k = 6) and RAdam's rectification switch come after it.
  check_trajectory(maker<Ranger>(O::ranger(0.01).weight_decay(1e-4)), "golden/deepshift/ranger_traj.npy", 4);
  check_trajectory(maker<RAdam>(O::radam(0.01).weight_decay(1e-4)), "golden/deepshift/radam_traj.npy", 4);
  check_trajectory(maker<SGD>(O::sgd(0.1).momentum(0.9).nesterov(true).weight_decay(5e-4)), "optim/sgd_nesterov.npy",
                   5);
  check_trajectory(maker<AdamW>(O::adamw(0.02).beta1(0.85).beta2(0.995).weight_decay(0.05).amsgrad(true)),
                   "optim/adamw_amsgrad.npy", 3);
}

TEST_CASE("parameter groups: per-group lr and weight decay as torch param_groups", "[optim]") {
  Tensor p0 = load_data("golden/deepshift/opt_p0.npy"), grads = load_data("golden/deepshift/opt_grads.npy");
  struct Case {
    const char* file;
    std::function<std::unique_ptr<Optimizer>(std::vector<ParamGroup>)> make;
    OptimizerOptions o;
  };
  using O = OptimizerOptions;
  std::vector<Case> cases = {
      {"sgd_momentum_wd", [](auto g) { return std::make_unique<SGD>(std::move(g)); },
       O::sgd(0.1).momentum(0.9).weight_decay(1e-4)},
      {"adam_wd_betas", [](auto g) { return std::make_unique<Adam>(std::move(g)); },
       O::adam(0.01).beta1(0.8).beta2(0.99).eps(1e-6).weight_decay(1e-2)},
      {"adamw", [](auto g) { return std::make_unique<AdamW>(std::move(g)); }, O::adamw(0.01).weight_decay(0.1)},
  };
  for (const auto& c : cases) {
    INFO(c.file);
    std::vector<float> pv = p0.to_vector<float>();
    Tensor w = from_vector(std::vector<float>(pv.begin(), pv.begin() + 4), {2, 2}),
           b = from_vector(std::vector<float>(pv.begin() + 4, pv.end()));
    w.requires_grad_();
    b.requires_grad_();
    // The split helper builds torch's two groups: the bias gets lr x 0.5 and no weight decay.
    OptimizerOptions bias_opts = c.o;
    bias_opts.lr(c.o.lr() * 0.5).weight_decay(0);
    auto groups = split_param_groups(
        {{"fc.weight", w}, {"fc.bias", b}}, [](const std::string& n) { return n == "fc.bias"; }, c.o, bias_opts);
    REQUIRE(groups.size() == 2);
    auto opt = c.make(std::move(groups));
    std::vector<float> out;
    for (int64_t t = 0; t < 12; ++t) {
      std::vector<float> g = grads.slice(t, t + 1).to_vector<float>();
      w.set_grad(from_vector(std::vector<float>(g.begin(), g.begin() + 4), {2, 2}));
      b.set_grad(from_vector(std::vector<float>(g.begin() + 4, g.end())));
      opt->step();
      for (float f : w.detach().to_vector<float>()) out.push_back(f);
      for (float f : b.detach().to_vector<float>()) out.push_back(f);
    }
    check_close(from_vector(out, {12, 6}), load_data(std::string("optim/groups_") + c.file + ".npy"), kAtol, kRtol);
    CHECK(opt->lr(1) == c.o.lr() * 0.5);
  }
}

TEST_CASE("no_weight_decay: biases, BatchNorm parameters and quantizer scales", "[optim]") {
  Sequential net;
  net.push_back("conv1", std::make_shared<Conv2d>(Conv2dOptions(3, 4, 3).bias(false)));
  net.push_back("bn1", std::make_shared<BatchNorm2d>(4));
  net.push_back("fc", std::make_shared<Linear>(4, 2));
  NamePredicate nd = no_weight_decay(net);
  CHECK_FALSE(nd("conv1.weight"));
  CHECK(nd("bn1.weight"));
  CHECK(nd("bn1.bias"));
  CHECK(nd("fc.bias"));
  CHECK_FALSE(nd("fc.weight"));
  CHECK(nd("layer1.0.conv1.act_alpha"));
  CHECK(nd("conv1.weight_scale"));
  auto groups = weight_decay_groups(net, OptimizerOptions::sgd(0.1).weight_decay(5e-4));
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].params.size() == 2);  // conv1.weight, fc.weight
  CHECK(groups[0].options.weight_decay() == 5e-4);
  CHECK(groups[1].params.size() == 3);
  CHECK(groups[1].options.weight_decay() == 0);
  CHECK(groups[1].options.lr() == 0.1);
}

TEST_CASE("updates are in place on the parameter's storage, parameters without gradients are skipped", "[optim]") {
  Linear lin(3, 2);
  const TensorImpl* impl = lin.weight().impl();
  const void* data = lin.weight().raw_data();
  std::vector<float> b0 = lin.bias().to_vector<float>();
  SGD opt(lin.named_parameters(), OptimizerOptions::sgd(0.5).momentum(0.9));
  Tensor x = test::randf({4, 3}, 1);
  sum(linear(x, lin.weight(), Tensor())).backward();  // the bias gets no gradient
  std::vector<float> w0 = lin.weight().to_vector<float>();
  opt.step();
  CHECK(lin.weight().impl() == impl);
  CHECK(lin.weight().raw_data() == data);
  CHECK(lin.weight().to_vector<float>() != w0);
  CHECK(lin.bias().to_vector<float>() == b0);
  CHECK(opt.state("bias").empty());
  CHECK(opt.state("weight").count("momentum_buffer") == 1);
  CHECK(opt.step_count() == 1);
  opt.zero_grad();
  CHECK_FALSE(lin.weight().grad().defined());
  // The state dict names state by parameter name.
  NamedTensors sd = opt.state_dict();
  CHECK(test::has_name(sd, "optimizer.step"));
  CHECK(test::has_name(sd, "optimizer.group.0.lr"));
  CHECK(test::has_name(sd, "optimizer.state.weight.momentum_buffer"));
  CHECK_FALSE(test::has_name(sd, "optimizer.state.bias.momentum_buffer"));
}

TEST_CASE("Ranger state names, and a trained model's state under dotted names", "[optim]") {
  Sequential net;
  net.push_back("fc", std::make_shared<Linear>(3, 2));
  Ranger opt(net.named_parameters(), OptimizerOptions::ranger());
  sum(net.forward(test::randf({2, 3}, 1))).backward();
  opt.step();
  auto sd = test::to_map(opt.state_dict());
  for (const char* k :
       {"optimizer.state.fc.weight.step", "optimizer.state.fc.weight.exp_avg", "optimizer.state.fc.weight.exp_avg_sq",
        "optimizer.state.fc.weight.slow_buffer", "optimizer.state.fc.bias.slow_buffer"})
    CHECK(sd.count(k) == 1);
  CHECK(sd.at("optimizer.state.fc.weight.step").dtype() == DType::i64);
  CHECK(sd.at("optimizer.state.fc.weight.step").item() == 1);
}

TEST_CASE("load_state_dict and option errors are clear", "[optim][errors]") {
  Linear lin(3, 2);
  Adam opt(lin.named_parameters(), OptimizerOptions::adam());
  sum(lin.forward(test::randf({2, 3}, 1))).backward();
  opt.step();
  auto good = test::to_map(opt.state_dict());
  auto bad = good;
  bad["optimizer.state.conv9.weight.exp_avg"] = zeros({2, 3});
  CHECK(error_of([&] {
          opt.load_state_dict(bad);
        }).find("parameter 'conv9.weight', which this optimizer does not have") != std::string::npos);
  bad = good;
  bad["optimizer.state.weight.momentum_buffer"] = zeros({2, 3});
  CHECK(error_of([&] { opt.load_state_dict(bad); }).find("state 'momentum_buffer', which Adam does not keep") !=
        std::string::npos);
  bad = good;
  bad["optimizer.state.weight.exp_avg"] = zeros({3, 2});
  CHECK(error_of([&] { opt.load_state_dict(bad); }).find("has shape [3, 2] but the parameter has [2, 3]") !=
        std::string::npos);
  bad = good;
  bad.erase("optimizer.step");
  CHECK(error_of([&] { opt.load_state_dict(bad); }).find("'optimizer.step' is missing") != std::string::npos);
  bad = good;
  bad["optimizer.group.1.lr"] = scalar_tensor(0.1, DType::f64);
  CHECK(error_of([&] { opt.load_state_dict(bad); }).find("refers to group 1") != std::string::npos);
  CHECK_NOTHROW(opt.load_state_dict(good));

  CHECK(error_of([&] {
          SGD s(lin.named_parameters(), OptimizerOptions::sgd(0.1).nesterov(true));
        }).find("nesterov needs momentum > 0") != std::string::npos);
  CHECK(error_of([&] { SGD s(lin.named_parameters(), OptimizerOptions::sgd(-1)); }).find("lr must be >= 0") !=
        std::string::npos);
  CHECK(error_of([&] {
          Adam a(lin.named_parameters(), OptimizerOptions::adam().beta2(1.0));
        }).find("betas must be in [0, 1)") != std::string::npos);
  CHECK(error_of([&] { Ranger r(lin.named_parameters(), OptimizerOptions::ranger().k(0)); }).find("k must be >= 1") !=
        std::string::npos);
  NamedTensors twice = lin.named_parameters();
  twice.push_back(twice[0]);
  CHECK(error_of([&] { SGD s(twice, OptimizerOptions::sgd(0.1)); }).find("'weight' appears twice") !=
        std::string::npos);
  CHECK(make_optimizer("Ranger", {ParamGroup{lin.named_parameters(), OptimizerOptions::ranger()}})->type_name() ==
        "Ranger");
  CHECK(error_of([&] { make_optimizer("lamb", {}); }).find("unknown optimizer 'lamb'") != std::string::npos);
}

TEST_CASE("SGD with momentum trains a small model built from layers", "[optim][training]") {
  manual_seed(7);
  Sequential net;
  net.push_back(std::make_shared<Linear>(2, 16));
  net.push_back(std::make_shared<BatchNorm1d>(16));
  net.push_back(std::make_shared<ReLU>());
  net.push_back(std::make_shared<Linear>(16, 2));
  Generator g(1);
  Tensor x = randn({64, 2}, DType::f32, Device::cpu, 0, 1, &g);
  std::vector<float> xv = x.to_vector<float>();
  std::vector<int32_t> yv;
  for (size_t i = 0; i < 64; ++i) yv.push_back(xv[2 * i] * xv[2 * i + 1] > 0 ? 1 : 0);  // XOR-like quadrants
  Tensor y = from_vector(yv);
  auto forward = [&] { return net.forward(x); };
  SGD opt(weight_decay_groups(net, OptimizerOptions::sgd(0.1).momentum(0.9).weight_decay(1e-4)));
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    Tensor h = forward();
    Tensor loss = cross_entropy(h, y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
  INFO("loss " << first << " -> " << last);
  CHECK(last < 0.6 * first);
}

TEST_CASE("moments that decay below the smallest normal float become exactly 0", "[optim]") {
  // One step with gradient 1, then 900 with gradient 0: 0.9^900 ~ 7e-42 would be a subnormal float,
  // which makes every later update of that weight ~100x slower on x86.
  Linear lin(4, 1);
  NamedTensors params = {{"weight", lin.weight()}};
  SGD sgd(params, OptimizerOptions::sgd(1e-3).momentum(0.9));
  Adam adam(params, OptimizerOptions::adam(1e-3));
  RAdam radam(params, OptimizerOptions::radam(1e-3));
  for (Optimizer* opt : std::initializer_list<Optimizer*>{&sgd, &adam, &radam}) {
    for (int step = 0; step < 901; ++step) {
      opt->zero_grad();
      Tensor x = full({1, 4}, step == 0 ? 1.0 : 0.0);
      sum(linear(x, lin.weight(), Tensor())).backward();
      opt->step();
    }
    for (const auto& [key, value] : opt->state("weight")) {
      if (value.dtype() != DType::f32) continue;
      for (float v : value.to_vector<float>()) {
        INFO("state " << key << " value " << v);
        CHECK((v == 0.0f || std::abs(v) >= std::numeric_limits<float>::min()));
      }
    }
  }
  CHECK(sgd.state("weight").at("momentum_buffer").to_vector<float>()[0] == 0.0f);
  CHECK(adam.state("weight").at("exp_avg").to_vector<float>()[0] == 0.0f);
}

TEST_CASE("a state saved with fewer groups of one lr resumes into more groups, one of several lrs is refused",
          "[optim]") {
  // Checkpoints from before weight decay split off its no-decay group.
  Tensor a = from_vector(std::vector<float>{1, 2}, {2}), b = from_vector(std::vector<float>{3}, {1});
  a.requires_grad_();
  b.requires_grad_();
  OptimizerOptions o;
  o.lr(0.05).momentum(0.9);
  SGD one({ParamGroup{{{"a", a}, {"b", b}}, o}});
  a.set_grad(from_vector(std::vector<float>{1, 1}, {2}));
  b.set_grad(from_vector(std::vector<float>{1}, {1}));
  one.step();
  auto state = test::to_map(one.state_dict());
  OptimizerOptions no_decay = o;
  no_decay.lr(0.1);  // the configured lr: the checkpoint's replaces it
  SGD two({ParamGroup{{{"a", a}}, o}, ParamGroup{{{"b", b}}, no_decay}});
  two.load_state_dict(state);
  CHECK(two.lr(0) == Approx(0.05));
  CHECK(two.lr(1) == Approx(0.05));

  SGD mixed({ParamGroup{{{"a", a}}, o}, ParamGroup{{{"b", b}}, no_decay}});
  auto mixed_state = test::to_map(mixed.state_dict());
  Tensor c = from_vector(std::vector<float>{4}, {1});
  c.requires_grad_();
  SGD three({ParamGroup{{{"a", a}}, o}, ParamGroup{{{"b", b}}, o}, ParamGroup{{{"c", c}}, o}});
  CHECK_THROWS_WITH(three.load_state_dict(mixed_state), Catch::Contains("the state has lrs for 2 group(s)"));
}
