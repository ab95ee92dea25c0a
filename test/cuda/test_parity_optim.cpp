// Optimizer steps on the device against the CPU: the same rules (backends/optim_rules.h) with the
// same arithmetic, so parameters and every state buffer must match bit for bit after several steps,
// and the state must stay on the device (no host round trip).
#include "parity.h"
#include "train/optimizer.h"

namespace sl::parity {
namespace {

struct OptimizerCase {
  const char* name;
  OptimizerOptions options;
};

std::vector<OptimizerCase> optimizer_cases() {
  return {
      {"sgd", OptimizerOptions::sgd(0.1)},
      {"sgd", OptimizerOptions::sgd(0.1).momentum(0.9).weight_decay(5e-4)},
      {"sgd", OptimizerOptions::sgd(0.05).momentum(0.9).nesterov(true).weight_decay(1e-3)},
      {"sgd", OptimizerOptions::sgd(0.05).momentum(0.8).dampening(0.1)},
      {"adam", OptimizerOptions::adam(1e-2).weight_decay(1e-3)},
      {"adam", OptimizerOptions::adam(1e-2).amsgrad(true)},
      {"adamw", OptimizerOptions::adam(1e-2).weight_decay(1e-2).amsgrad(true)},
      {"radam", OptimizerOptions::radam(1e-2).weight_decay(1e-3)},
      {"ranger", OptimizerOptions::ranger(1e-2).weight_decay(1e-3).k(2)},
  };
}

// Two parameters (one with an odd size, so no kernel sees only whole blocks), each with a gradient that
// changes every step; some gradient elements are 0 so moments decay towards the subnormal flush.
NamedTensors make_params(DType dt, Device device) {
  NamedTensors out;
  out.emplace_back("w", uniform({37, 29}, 1, -1, 1, dt).to(device).requires_grad_());
  out.emplace_back("b", uniform({1001}, 2, -1, 1, dt).to(device).requires_grad_());
  return out;
}

void set_gradients(NamedTensors& params, int step, Device device) {
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor& p = params[i].second;
    Tensor g = uniform(p.shape(), 100 + 10 * static_cast<uint64_t>(step) + i, -1, 1, DType::f64);
    std::vector<double> v = g.to_vector<double>();
    for (size_t k = 0; k < v.size(); k += 3) v[k] = 0;
    Tensor exact = from_vector(v, g.shape());
    if (p.dtype() == DType::f32) exact = from_vector(std::vector<float>(v.begin(), v.end()), g.shape());
    p.set_grad(exact.to(device));
  }
}

void check_same_state(const Optimizer& cpu, const Optimizer& dev, const NamedTensors& params, const std::string& what) {
  for (const auto& kv : params) {
    const auto& sc = cpu.state(kv.first);
    const auto& sd = dev.state(kv.first);
    REQUIRE(sc.size() == sd.size());
    for (const auto& st : sc) {
      auto it = sd.find(st.first);
      REQUIRE(it != sd.end());
      if (st.first == "step") {
        CHECK(it->second.item() == st.second.item());
        continue;
      }
      check_exact(st.second, it->second, what + " state " + kv.first + "." + st.first);
    }
  }
}

}  // namespace

TEST_CASE("optimizer steps run on the device and match the CPU bit for bit", "[parity][optim]") {
  for_each_dtype([](DType dt) {
    for (const auto& c : optimizer_cases()) {
      INFO("optimizer " << c.name << ", lr " << c.options.lr());
      NamedTensors pc = make_params(dt, Device::cpu), pd = make_params(dt, device());
      auto oc = make_optimizer(c.name, {{pc, c.options}});
      auto od = make_optimizer(c.name, {{pd, c.options}});
      for (int step = 0; step < 5; ++step) {
        set_gradients(pc, step, Device::cpu);
        set_gradients(pd, step, device());
        oc->step();
        od->step();
        for (size_t i = 0; i < pc.size(); ++i)
          check_exact(pc[i].second, pd[i].second, "step " + std::to_string(step) + " " + pc[i].first);
      }
      check_same_state(*oc, *od, pc, c.name);
      for (const auto& kv : pd)
        for (const auto& st : od->state(kv.first))
          if (st.first != "step") CHECK(st.second.device() == device());
    }
  });
}

TEST_CASE("optimizer state saved on the CPU resumes on the device", "[parity][optim]") {
  for (const char* name : {"sgd", "adam", "ranger"}) {
    INFO("optimizer " << name);
    auto options = std::string(name) == "sgd" ? OptimizerOptions::sgd(0.1).momentum(0.9)
                                              : OptimizerOptions::ranger(1e-2).k(2);
    NamedTensors pc = make_params(DType::f32, Device::cpu), pd = make_params(DType::f32, device());
    auto oc = make_optimizer(name, {{pc, options}});
    set_gradients(pc, 0, Device::cpu);
    oc->step();
    std::map<std::string, Tensor> saved;
    for (auto& kv : oc->state_dict()) saved.emplace(kv.first, kv.second);
    for (size_t i = 0; i < pc.size(); ++i) copy_data(pd[i].second, pc[i].second);

    auto od = make_optimizer(name, {{pd, options}});
    od->load_state_dict(saved);
    for (int step = 1; step < 4; ++step) {
      set_gradients(pc, step, Device::cpu);
      set_gradients(pd, step, device());
      oc->step();
      od->step();
    }
    for (size_t i = 0; i < pc.size(); ++i) check_exact(pc[i].second, pd[i].second, "resumed " + pc[i].first);
    check_same_state(*oc, *od, pc, name);
  }
}

}  // namespace sl::parity
