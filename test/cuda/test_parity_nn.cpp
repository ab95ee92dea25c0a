// Parity of the network kernels through their autograd ops, forward and backward: conv2d (stride,
// padding, dilation, groups, depthwise, 1x1, chunked batches), pooling, batch norm, softmax and
// cross-entropy, Shift2d, the level projection, and a small network end to end. Max-pool indices,
// Shift2d and level projection must match exactly.
#include <limits>

#include "parity.h"
#include "quant/levels.h"

using namespace sl;
using namespace sl::parity;

namespace {

struct ConvCase {
  Shape x, w;
  Conv2dArgs args;
  bool bias;
  const char* name;
};

Conv2dArgs conv_args(int64_t stride, int64_t pad, int64_t dil, int64_t groups) {
  Conv2dArgs a;
  a.stride = {stride, stride};
  a.padding = {pad, pad};
  a.dilation = {dil, dil};
  a.groups = groups;
  return a;
}

}  // namespace

TEST_CASE("parity: conv2d forward and both gradients", "[parity][conv]") {
  std::vector<ConvCase> cases = {
      {{2, 3, 9, 9}, {4, 3, 3, 3}, conv_args(1, 1, 1, 1), true, "3x3 pad 1"},
      {{3, 4, 11, 10}, {6, 4, 3, 3}, conv_args(2, 1, 1, 1), false, "3x3 stride 2"},
      {{2, 4, 12, 12}, {4, 2, 3, 3}, conv_args(1, 2, 2, 2), true, "dilation 2, 2 groups"},
      {{2, 6, 8, 8}, {6, 1, 3, 3}, conv_args(1, 1, 1, 6), false, "depthwise"},
      {{2, 4, 9, 9}, {8, 1, 5, 5}, conv_args(2, 2, 1, 4), true, "depthwise x2, 5x5 stride 2"},
      {{3, 8, 7, 7}, {5, 8, 1, 1}, conv_args(1, 0, 1, 1), true, "pointwise"},
      {{3, 8, 7, 7}, {6, 4, 1, 1}, conv_args(1, 0, 1, 2), false, "grouped pointwise"},
      {{2, 4, 9, 9}, {6, 4, 1, 1}, conv_args(2, 0, 1, 1), false, "1x1 stride 2"},
      {{2, 3, 10, 7}, {4, 3, 2, 4}, conv_args(1, 0, 1, 1), true, "non-square kernel"},
      {{1, 1, 28, 28}, {20, 1, 5, 5}, conv_args(1, 0, 1, 1), true, "mnist conv1"},
  };
  for_each_dtype([&](DType dt) {
    for (const ConvCase& c : cases) {
      INFO(c.name);
      TensorList in = {uniform(c.x, 1, -1, 1, dt), uniform(c.w, 2, -1, 1, dt)};
      if (c.bias) in.push_back(uniform({c.w[0]}, 3, -1, 1, dt));
      Conv2dArgs a = c.args;
      check_op([a](const TensorList& t) { return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), a); }, in,
               tol_for(dt), c.name);
    }
  });
}

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

TEST_CASE("parity: average and adaptive average pooling", "[parity][pool]") {
  for_each_dtype([](DType dt) {
    double tol = tol_for(dt);
    Tensor x = uniform({2, 3, 11, 9}, 8, -1, 1, dt);
    for (bool include_pad : {true, false}) {
      for (auto [k, s, p] : std::vector<std::array<int64_t, 3>>{{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {5, 3, 2}}) {
        INFO("kernel " << k << " stride " << s << " padding " << p << " include_pad " << include_pad);
        Pool2dArgs a;
        a.kernel = {k, k};
        a.stride = {s, s};
        a.padding = {p, p};
        a.count_include_pad = include_pad;
        check_op([a](const TensorList& t) { return avg_pool2d(t[0], a); }, {x}, tol);
      }
    }
    for (std::array<int64_t, 2> out : std::vector<std::array<int64_t, 2>>{{1, 1}, {3, 2}, {4, 4}, {11, 9}, {5, 7}}) {
      INFO("adaptive " << out[0] << "x" << out[1]);
      check_op([out](const TensorList& t) { return adaptive_avg_pool2d(t[0], out); }, {x}, tol);
    }
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

TEST_CASE("parity: softmax and log-softmax along last and inner dimensions", "[parity][softmax]") {
  for_each_dtype([](DType dt) {
    double tol = tol_for(dt);
    for (auto [shape, dim] : std::vector<std::pair<Shape, int64_t>>{
             {{8, 10}, 1}, {{3, 1000}, 1}, {{4, 5, 6}, 1}, {{4, 5, 6}, 0}, {{2, 700, 3}, 1}, {{1, 1}, 0}}) {
      INFO("shape " << shape_str(shape) << " dim " << dim);
      Tensor x = uniform(shape, 14, -5, 5, dt);
      check_op([d = dim](const TensorList& t) { return softmax(t[0], d); }, {x}, tol);
      check_op([d = dim](const TensorList& t) { return log_softmax(t[0], d); }, {x}, tol);
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

TEST_CASE("parity: Shift2d is exact for every kernel, dilation and channel count", "[parity][shift]") {
  for_each_dtype([](DType dt) {
    for (auto [c, k, dil] :
         std::vector<std::array<int64_t, 3>>{{9, 3, 1}, {20, 3, 1}, {25, 5, 1}, {18, 3, 2}, {4, 3, 1}}) {
      INFO("channels " << c << " kernel " << k << " dilation " << dil);
      Tensor x = uniform({2, c, 7, 6}, 16, -1, 1, dt);
      check_op([k = k, dil = dil](const TensorList& t) { return shift2d(t[0], k, dil); }, {x}, 0);
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
