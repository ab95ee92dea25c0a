// Parity of the network kernels beyond the op-case table (test_parity_op_cases.cpp): conv2d over
// chunked and empty batches, max-pool indices with NaN, batch norm's running statistics, the
// cross-entropy bad-label error, the level projection's ties, and a small network end to end.
#include <limits>

#include "parity.h"
#include "quant/levels.h"

using namespace sl;
using namespace sl::parity;

namespace {

Conv2dArgs conv_args(int64_t stride, int64_t pad, int64_t dil, int64_t groups) {
  Conv2dArgs a;
  a.stride = {stride, stride};
  a.padding = {pad, pad};
  a.dilation = {dil, dil};
  a.groups = groups;
  return a;
}

}  // namespace

TEST_CASE("parity: conv2d over a batch larger than one column chunk", "[parity][conv]") {
  // 64 images of 64 channels at 32x32 with a 3x3 kernel: 2.25 MiB of columns per image, so the
  // 128 MiB column budget splits the batch and the weight gradient accumulates over chunks.
  check_op([](const TensorList& t) { return conv2d(t[0], t[1], Tensor(), conv_args(1, 1, 1, 1)); },
           {uniform({64, 64, 32, 32}, 4), uniform({32, 64, 3, 3}, 5, -0.1, 0.1)}, kTolF32, "chunked");
}

TEST_CASE("parity: conv2d with an empty batch", "[parity][conv]") {
  Tensor w = uniform({4, 3, 3, 3}, 6);
  check_op([](const TensorList& t) { return conv2d(t[0], t[1]); }, {zeros({0, 3, 5, 5}), w}, 0);
}

TEST_CASE("parity: max pooling values, indices and gradients", "[parity][pool]") {
  auto pool = [](int64_t k, int64_t s, int64_t p) {
    Pool2dArgs a;
    a.kernel = {k, k};
    a.stride = {s, s};
    a.padding = {p, p};
    return a;
  };
  for_each_dtype([&](DType dt) {
    // Values on a coarse grid: ties inside windows (first wins), overlapping windows share maxima.
    Tensor x = floor(uniform({2, 3, 11, 9}, 7, -3, 3, dt));
    for (Pool2dArgs a : {pool(2, 2, 0), pool(3, 2, 1), pool(3, 1, 1), pool(2, 1, 0)}) {
      INFO("kernel " << a.kernel[0] << " stride " << a.stride[0] << " padding " << a.padding[0]);
      check_op([a](const TensorList& t) { return max_pool2d(t[0], a); }, {x}, 0);
    }
    // Indices (and NaN handling) through the kernel itself.
    std::vector<double> v = x.to_vector<double>();
    v[5] = v[40] = v[41] = std::numeric_limits<double>::quiet_NaN();
    Tensor xn = from_vector(v, x.shape()).to(dt), xd = dev(xn);
    Pool2dParams p{2, 3, 11, 9, 3, 3, 2, 2, 1, 1, 6, 5, false};
    Tensor yc = Tensor::empty({2, 3, 6, 5}, dt), ic = Tensor::empty({2, 3, 6, 5}, DType::i32);
    Tensor yd = Tensor::empty({2, 3, 6, 5}, dt, device()), id = Tensor::empty({2, 3, 6, 5}, DType::i32, device());
    backend(Device::cpu).max_pool2d_forward(dt, p, xn.raw_data(), yc.raw_data(), static_cast<int32_t*>(ic.raw_data()));
    backend(device()).max_pool2d_forward(dt, p, xd.raw_data(), yd.raw_data(), static_cast<int32_t*>(id.raw_data()));
    check_exact(yc, yd, "values");
    check_exact(ic, id, "indices");
  });
}

TEST_CASE("parity: batch norm in training and evaluation, with running statistics", "[parity][batchnorm]") {
  for_each_dtype([](DType dt) {
    double tol = tol_for(dt);
    // The last two spread each channel over several chunks (16 Ki elements each), unevenly.
    for (Shape s : std::vector<Shape>{{16, 5}, {4, 6, 7, 9}, {2, 3, 40, 40}, {5, 2, 61, 67}, {40000, 3}}) {
      INFO("shape " << shape_str(s));
      int64_t c = s[1];
      Tensor x = uniform(s, 9, -2, 3, dt), gamma = uniform({c}, 10, 0.5, 1.5, dt), beta = uniform({c}, 11, -1, 1, dt);
      for (bool affine : {true, false}) {
        INFO("affine " << affine);
        Tensor rm_c = uniform({c}, 12, -1, 1, dt), rv_c = uniform({c}, 13, 0.5, 2, dt);
        Tensor rm_d = dev(rm_c), rv_d = dev(rv_c);
        TensorList in = affine ? TensorList{x, gamma, beta} : TensorList{x};
        auto bn = [&](bool training) {
          return [&, training](const TensorList& t, bool reference) {
            return batch_norm(t[0], affine ? t[1] : Tensor(), affine ? t[2] : Tensor(), reference ? rm_c : rm_d,
                              reference ? rv_c : rv_d, training, 0.1, 1e-5);
          };
        };
        check_op_sided(bn(true), in, tol, "train");
        check_close(rm_c, rm_d, tol, "running_mean");
        check_close(rv_c, rv_d, tol, "running_var");
        check_op_sided(bn(false), in, tol, "eval");
      }
    }
  });
}

TEST_CASE("parity: cross-entropy with label smoothing, and the bad-label error", "[parity][softmax]") {
  for_each_dtype([](DType dt) {
    double tol = tol_for(dt);
    for (auto [n, c] : std::vector<std::pair<int64_t, int64_t>>{{8, 10}, {300, 7}, {3, 1000}}) {
      Tensor logits = uniform({n, c}, 15, -4, 4, dt);
      std::vector<int32_t> lv(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) lv[static_cast<size_t>(i)] = static_cast<int32_t>((i * 7 + 3) % c);
      Tensor labels = from_vector(lv);
      for (double s : {0.0, 0.1}) {
        INFO("n " << n << " c " << c << " smoothing " << s);
        Tensor lc = leaf(logits.clone()), ld = dev_leaf(lc);
        Tensor yc = cross_entropy(lc, labels, s), yd = cross_entropy(ld, dev(labels), s);
        check_close(yc, yd, tol);
        mul(yc, scalar_like(1.7, yc)).backward();
        mul(yd, scalar_like(1.7, yd)).backward();
        check_close(lc.grad(), ld.grad(), tol);
      }
    }
    Tensor bad = from_vector<int32_t>({1, 2, -1, 9, 0});
    std::string want = "label -1 at index 2 is outside [0, 4)";
    for (Device d : {Device::cpu, device()}) {
      std::string got;
      try {
        cross_entropy(zeros({5, 4}, dt, d), bad.to(d));
      } catch (const Error& e) {
        got = e.what();
      }
      CHECK(got.find(want) != std::string::npos);
    }
  });
}

TEST_CASE("parity: projection onto APoT level sets is exact, ties included", "[parity][quant]") {
  for_each_dtype([](DType dt) {
    for (auto [B, additive] : std::vector<std::pair<int, bool>>{{2, true}, {3, true}, {4, true}, {3, false}}) {
      INFO("B " << B << " additive " << additive);
      LevelSet set = apot_levels(B, additive);
      // Random points, every level, and every midpoint between neighbours (exact ties in f64).
      std::vector<double> v = uniform({2000}, 17, -0.2, 1.1, DType::f64).to_vector<double>();
      for (size_t i = 0; i < set.levels.size(); ++i) {
        v.push_back(set.levels[i]);
        if (i + 1 < set.levels.size()) v.push_back((set.levels[i] + set.levels[i + 1]) / 2);
      }
      Tensor x = from_vector(v).to(dt);
      Tensor ic, id;
      check_exact(project_to_levels(x, set, &ic), project_to_levels(dev(x), set, &id), "values");
      check_exact(ic, id, "indices");
    }
  });
}

TEST_CASE("parity: a small network end to end (conv, batch norm, pools, linear, cross-entropy)", "[parity][graph]") {
  TensorList params = {
      uniform({8, 3, 3, 3}, 20, -0.5, 0.5),    uniform({8}, 21), uniform({8}, 22, 0.5, 1.5), uniform({8}, 23),
      uniform({10, 8 * 4 * 4}, 24, -0.2, 0.2), uniform({10}, 25)};
  Tensor x = uniform({6, 3, 16, 16}, 26);
  Tensor labels = from_vector<int32_t>({0, 3, 9, 1, 1, 7});
  auto net = [&](const TensorList& t, bool reference) {
    Tensor h = conv2d(t[6], t[0], t[1], conv_args(1, 1, 1, 1));
    h = relu(batch_norm(h, t[2], t[3], Tensor(), Tensor(), true));
    Pool2dArgs p;
    h = max_pool2d(h, p);
    h = adaptive_avg_pool2d(h, {4, 4});
    Tensor logits = linear(reshape(h, {h.size(0), -1}), t[4], t[5]);
    return cross_entropy(logits, reference ? labels : dev(labels), 0.05);
  };
  TensorList in = params;
  in.push_back(x);
  check_op_sided(net, in, kTolF32, "network");
}
