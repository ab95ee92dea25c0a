// The fused training ops against the compositions they replace, on every CPU target this machine
// runs: shift_conv2d = conv2d(shift2d(x), W) (ShiftResNet's shift read as addressing by the 1x1
// conv), batch_norm_relu = relu(batch_norm(x)) and batch_norm_add_relu = relu(batch_norm(x) + r).
// All promise the composition's results bit for bit (the same GEMM chains and the same IEEE
// operations per element). Their gradchecks run from the op-case table (opcases/).
#include <cstring>

#include "autograd/node.h"
#include "backends/cpu/simd/target.h"
#include "helpers.h"
#include "layers/models/registry.h"

using namespace sl;

namespace {

// The name of the graph node that produced t ("" for a leaf).
std::string node_name(const Tensor& t) {
  const auto& meta = t.impl()->autograd;
  return meta && meta->grad_fn ? meta->grad_fn->name : "";
}

template <class T>
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  std::vector<T> x = a.to_vector<T>(), y = b.to_vector<T>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
}

struct Grads {
  Tensor y, gx, gw;
};

// Forward and both gradients of f(x, w) for a fixed output gradient.
template <class F>
Grads run(const Tensor& x0, const Tensor& w0, const Tensor& gy_seed, F f, std::string* name = nullptr) {
  Tensor x = x0.clone(), w = w0.clone();
  x.requires_grad_();
  w.requires_grad_();
  Tensor y = f(x, w);
  if (name) *name = node_name(y);
  y.backward(gy_seed.reshape(y.shape()));
  return {y.detach(), x.grad(), w.grad()};
}

template <class T>
void check_shift_conv(DType dt, const std::string& target) {
  struct Case {
    int64_t n, cin, cout, h, w, kernel, dilation, stride;
  };
  // Channel counts with and without the unshifted remainder (C mod k^2), odd sizes, planes narrower
  // than the shift, strides 1, 2 and 3, batch 1.
  const std::vector<Case> cases{{2, 48, 16, 8, 8, 3, 1, 1},  {3, 20, 7, 5, 9, 3, 1, 1},  {2, 27, 12, 7, 6, 3, 1, 2},
                                {1, 30, 9, 9, 7, 5, 1, 1},   {2, 19, 5, 6, 5, 3, 2, 2},  {2, 18, 4, 2, 3, 3, 2, 1},
                                {2, 11, 6, 10, 10, 3, 1, 3}, {4, 64, 33, 4, 4, 3, 1, 1}};
  uint64_t seed = 1;
  for (const Case& c : cases) {
    INFO(target << " " << dtype_name(dt) << " n " << c.n << " cin " << c.cin << " cout " << c.cout << " " << c.h << "x" << c.w
                << " kernel " << c.kernel << " dilation " << c.dilation << " stride " << c.stride);
    Tensor x = test::randf({c.n, c.cin, c.h, c.w}, seed++).to(dt);
    Tensor w = test::randf({c.cout, c.cin, 1, 1}, seed++).to(dt);
    const int64_t ho = (c.h - 1) / c.stride + 1, wo = (c.w - 1) / c.stride + 1;
    Tensor gy = test::randf({c.n * c.cout * ho * wo}, seed++).to(dt);
    std::string name;
    Grads fused = run(x, w, gy, [&](const Tensor& a, const Tensor& b) {
      return shift_conv2d(a, b, c.kernel, c.dilation, c.stride);
    }, &name);
    CHECK(name == "shift_conv2d");  // the fused kernels ran, not the composition
    Conv2dArgs args;
    args.stride = {c.stride, c.stride};
    Grads ref = run(x, w, gy, [&](const Tensor& a, const Tensor& b) {
      return conv2d(shift2d(a, c.kernel, c.dilation), b, Tensor(), args);
    });
    CHECK(same_bits<T>(fused.y, ref.y));
    CHECK(same_bits<T>(fused.gx, ref.gx));
    CHECK(same_bits<T>(fused.gw, ref.gw));
  }
}

}  // namespace

TEST_CASE("shift_conv2d equals conv2d of shift2d bit for bit on every CPU target", "[fused][shift]") {
  for (const std::string& target : cpu::available_cpu_targets()) {
    cpu::ScopedCpuTarget scoped(target);
    check_shift_conv<float>(DType::f32, target);
    check_shift_conv<double>(DType::f64, target);
  }
}

// Its gradcheck runs from the op-case table (opcases/cases_conv.cpp).
TEST_CASE("shift_conv2d refuses bad arguments with their names", "[fused][shift]") {
  CHECK(test::error_of([] { shift_conv2d(zeros({1, 9, 4, 4}), zeros({2, 9, 3, 3})); }).find("1x1") !=
        std::string::npos);
  CHECK(test::error_of([] { shift_conv2d(zeros({1, 9, 4, 4}), zeros({2, 9, 1, 1}), 2); }).find("odd") !=
        std::string::npos);
  CHECK(test::error_of([] { shift_conv2d(zeros({1, 8, 4, 4}), zeros({2, 9, 1, 1})); }).find("input channels") !=
        std::string::npos);
}

namespace {

// Planes of 1 to 33 values (tails of the 16 summing lanes), for the fused batch-norm tests.
const std::vector<Shape> kBnShapes = {{4, 5, 3, 11}, {3, 7, 1, 1}, {2, 3, 33, 1}};

// Their inputs: channel 1 constant with beta 0, so it normalises to exact zeros (ReLU's kink: the
// mask takes > 0), and one NaN (the last channel's statistics and outputs are NaN). Seeds seed to
// seed + 2.
struct BnInputs {
  Tensor x, gamma, beta;
};

BnInputs bn_inputs(const Shape& shape, DType dt, uint64_t seed) {
  std::vector<float> xv = test::randf(shape, seed, -2, 3).to_vector<float>();
  std::vector<float> betav = test::randf({shape[1]}, seed + 2).to_vector<float>();
  const int64_t inner = shape[2] * shape[3];
  for (int64_t i = 0; i < shape[0]; ++i)
    std::fill(xv.begin() + (i * shape[1] + 1) * inner, xv.begin() + (i * shape[1] + 2) * inner, 1.5f);
  betav[1] = 0;
  xv.back() = std::nanf("");
  return {from_vector(xv, shape).to(dt), test::randf({shape[1]}, seed + 1, 0.5, 1.5).to(dt),
          from_vector(betav, {shape[1]}).to(dt)};
}

template <class T>
void check_bn_relu(DType dt, const std::string& target) {
  for (const Shape& shape : kBnShapes) {
    INFO(target << " " << dtype_name(dt) << " " << shape_str(shape));
    const BnInputs in = bn_inputs(shape, dt, 31);
    const Tensor &x0 = in.x, &gamma0 = in.gamma, &beta0 = in.beta;
    Tensor gy = test::randf(shape, 34).to(dt);
    auto fwd = [&](bool fused, std::string* name) {
      Tensor x = x0.clone(), gamma = gamma0.clone(), beta = beta0.clone();
      x.requires_grad_();
      gamma.requires_grad_();
      beta.requires_grad_();
      Tensor rm = zeros({shape[1]}, dt), rv = ones({shape[1]}, dt);
      Tensor y = fused ? batch_norm_relu(x, gamma, beta, rm, rv, true, 0.1, 1e-5)
                       : relu(batch_norm(x, gamma, beta, rm, rv, true, 0.1, 1e-5));
      if (name) *name = node_name(y);
      y.backward(gy);
      return std::vector<Tensor>{y.detach(), x.grad(), gamma.grad(), beta.grad(), rm, rv};
    };
    std::string name;
    std::vector<Tensor> got = fwd(true, &name), want = fwd(false, nullptr);
    CHECK(name == "batch_norm_relu");
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("output " << i << " (y, gx, ggamma, gbeta, running mean, running var)");
      CHECK(same_bits<T>(got[i], want[i]));
    }
  }
  // Evaluation mode (no fused kernel): the composition, same values.
  Tensor x = test::randf({2, 3, 4, 4}, 35).to(dt), rm = zeros({3}, dt), rv = ones({3}, dt);
  CHECK(same_bits<T>(batch_norm_relu(x, Tensor(), Tensor(), rm, rv, false),
                     relu(batch_norm(x, Tensor(), Tensor(), rm, rv, false))));
}

}  // namespace

TEST_CASE("batch_norm_relu equals relu of batch_norm bit for bit on every CPU target", "[fused][batch_norm]") {
  for (const std::string& target : cpu::available_cpu_targets()) {
    cpu::ScopedCpuTarget scoped(target);
    check_bn_relu<float>(DType::f32, target);
    check_bn_relu<double>(DType::f64, target);
  }
}

namespace {

template <class T>
void check_bn_add_relu(DType dt, const std::string& target) {
  for (const Shape& shape : kBnShapes) {
    INFO(target << " " << dtype_name(dt) << " " << shape_str(shape));
    const BnInputs in = bn_inputs(shape, dt, 41);
    const Tensor &x0 = in.x, &gamma0 = in.gamma, &beta0 = in.beta;
    // Channel 1's shortcut is 0 or -0, so its sums are of exact zeros (ReLU's kink after the add).
    std::vector<float> rv0 = test::randf(shape, 44).to_vector<float>();
    const int64_t inner = shape[2] * shape[3];
    for (int64_t i = 0; i < shape[0]; ++i)
      std::fill(rv0.begin() + (i * shape[1] + 1) * inner, rv0.begin() + (i * shape[1] + 2) * inner, i % 2 ? -0.0f : 0.0f);
    Tensor r0 = from_vector(rv0, shape).to(dt);
    Tensor gy = test::randf(shape, 45).to(dt);
    auto fwd = [&](bool fused, std::string* name) {
      Tensor x = x0.clone(), r = r0.clone(), gamma = gamma0.clone(), beta = beta0.clone();
      for (Tensor* t : {&x, &r, &gamma, &beta}) t->requires_grad_();
      Tensor rm = zeros({shape[1]}, dt), rvar = ones({shape[1]}, dt);
      Tensor y = fused ? batch_norm_add_relu(x, r, gamma, beta, rm, rvar, true, 0.1, 1e-5)
                       : relu(batch_norm(x, gamma, beta, rm, rvar, true, 0.1, 1e-5) + r);
      if (name) *name = node_name(y);
      y.backward(gy);
      return std::vector<Tensor>{y.detach(), x.grad(), r.grad(), gamma.grad(), beta.grad(), rm, rvar};
    };
    std::string name;
    std::vector<Tensor> got = fwd(true, &name), want = fwd(false, nullptr);
    CHECK(name == "batch_norm_add_relu");
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("output " << i << " (y, gx, gresidual, ggamma, gbeta, running mean, running var)");
      CHECK(same_bits<T>(got[i], want[i]));
    }
  }
  // Evaluation mode, and a shortcut that broadcasts: the composition, same values.
  Tensor x = test::randf({2, 3, 4, 4}, 46).to(dt), r = test::randf({2, 3, 4, 4}, 47).to(dt);
  Tensor rm = zeros({3}, dt), rv = ones({3}, dt);
  CHECK(same_bits<T>(batch_norm_add_relu(x, r, Tensor(), Tensor(), rm, rv, false),
                     relu(batch_norm(x, Tensor(), Tensor(), rm, rv, false) + r)));
  Tensor row = test::randf({4}, 48).to(dt);
  CHECK(same_bits<T>(batch_norm_add_relu(x, row, Tensor(), Tensor(), Tensor(), Tensor(), true),
                     relu(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true) + row)));
}

}  // namespace

TEST_CASE("batch_norm_add_relu equals relu of batch_norm plus the shortcut bit for bit on every CPU target",
          "[fused][batch_norm]") {
  for (const std::string& target : cpu::available_cpu_targets()) {
    cpu::ScopedCpuTarget scoped(target);
    check_bn_add_relu<float>(DType::f32, target);
    check_bn_add_relu<double>(DType::f64, target);
  }
}

// The gradchecks of batch_norm_relu, batch_norm_add_relu and standardize run from the op-case table
// (opcases/cases_nn.cpp).
TEST_CASE("standardize equals (x - mean) / std (unbiased) with its gradient", "[fused][apot]") {
  // Chunked (1000, 40000 = 40 x 1000), one chunk (2, 300, a prime 4099), f32 and f64.
  for (int64_t n : {2, 300, 1000, 4099, 40000}) {
    for (DType dt : {DType::f32, DType::f64}) {
      INFO("n " << n << " " << dtype_name(dt));
      const Tensor x0 = test::randf({n}, 51, -3, 5).to(dt), g = test::randf({n}, 52).to(dt);
      auto run = [&](bool fused) {
        Tensor x = x0.clone();
        x.requires_grad_();
        Tensor y = fused ? standardize(x) : div(sub(x, mean(x)), sqrt(var(x)));
        y.backward(g);
        return std::vector<Tensor>{y.detach(), x.grad()};
      };
      const std::vector<Tensor> got = run(true), want = run(false);
      const double tol = dt == DType::f32 ? 1e-4 : 1e-11;
      test::check_values(got[0], want[0], tol);
      test::check_values(got[1], want[1], tol);
    }
  }
  CHECK(test::error_of([] { standardize(zeros({1})); }).find("more than one element") != std::string::npos);
}

namespace {

// One training step of a fresh model: its output, every parameter's gradient and every buffer
// (running statistics) after it.
std::vector<Tensor> train_step(const std::string& arch, const ModelOptions& o, bool fused) {
  ScopedFusedOps fusion(fused);
  manual_seed(7);
  ModulePtr m = make_model(arch, o);
  m->train();
  Tensor x = test::randf({2, o.in_channels, o.image_size, o.image_size}, 71);
  Tensor y = m->forward(x);
  y.backward(test::randf(y.shape(), 72));
  std::vector<Tensor> all{y.detach()};
  for (const auto& [name, p] : m->named_parameters()) all.push_back(p.grad());
  for (const auto& [name, b] : m->named_buffers()) all.push_back(b);
  return all;
}

}  // namespace

// The blocks call batch_norm_relu and batch_norm_add_relu in place of their compositions: a whole
// step of each ResNet family must not see the difference. This checks the wiring; fresh models have
// beta = 0, so the kernels' rounding is the op tests' job above.
TEST_CASE("ResNets train one step with the fused ops exactly as with their compositions", "[fused][models]") {
  struct Net {
    std::string arch, shortcut;
    int64_t size;
  };
  for (const Net& net : std::vector<Net>{{"resnet20", "", 16},
                                         {"resnet20", "B", 16},
                                         {"shiftresnet20", "", 16},
                                         {"imagenet-resnet18", "", 32},
                                         {"imagenet-resnet50", "", 32}}) {
    INFO(net.arch << " shortcut '" << net.shortcut << "'");
    ModelOptions o;
    o.image_size = net.size;
    o.shortcut = net.shortcut;
    const std::vector<Tensor> fused = train_step(net.arch, o, true), composed = train_step(net.arch, o, false);
    REQUIRE(fused.size() == composed.size());
    for (size_t i = 0; i < fused.size(); ++i) {
      INFO("output, gradients, then buffers: item " << i);
      if (fused[i].dtype() == DType::f32) CHECK(same_bits<float>(fused[i], composed[i]));
      else CHECK(fused[i].to_vector<double>() == composed[i].to_vector<double>());
    }
  }
}
