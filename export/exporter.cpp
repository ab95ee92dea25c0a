#include "export/exporter.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "autograd/node.h"
#include "engine/factory.h"
#include "backends/params.h"
#include "export/weight_codes.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/models/mnist.h"
#include "layers/models/resnet_cifar.h"
#include "layers/models/resnet_imagenet.h"
#include "layers/models/shiftresnet.h"
#include "layers/sequential.h"
#include "quant/quantizer.h"

namespace sl {

namespace {

using deploy::ConvSpec;
using deploy::TensorSpec;

// Builds the graph while running the float model on the calibration batch: every emitted tensor
// comes with the float activation it stands for, whose range sets its quantisation.
class Walker {
 public:
  explicit Walker(const Tensor& images) {
    g_.in_c = images.size(1);
    g_.in_h = images.size(2);
    g_.in_w = images.size(3);
    add_tensor(images, false);
  }

  const Tensor& value(int id) const { return floats_[static_cast<size_t>(id)]; }

  // A tensor for float activation f ([n, c, h, w] or [n, c]); uint8 with the range of f, or float.
  int add_tensor(const Tensor& f, bool f32) {
    TensorSpec t;
    t.c = f.size(1);
    t.h = f.dim() == 4 ? f.size(2) : 1;
    t.w = f.dim() == 4 ? f.size(3) : 1;
    t.f32 = f32;
    if (!f32) {
      const std::vector<float> v = f.to_vector<float>();
      float lo = 0, hi = 0;
      for (float x : v) {
        SL_CHECK(std::isfinite(x), "export: the float model produced a non-finite activation on the calibration images");
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
      // The range always holds 0, so the zero padding and ReLU's zero are exact codes. Activations
      // have long tails: the range is the fraction of [lo, hi] whose 256 codes lose least in mean
      // squared error on the calibration values (clipping the rare largest values buys a finer grid
      // for all the others).
      double best = -1;
      for (float frac = 1.0f; frac > 0.19f; frac -= 0.05f) {
        const float clo = lo * frac, chi = hi * frac;
        const float scale = chi > clo ? (chi - clo) / 255.0f : 1.0f;
        const float zp = std::clamp(std::nearbyint(-clo / scale), 0.0f, 255.0f);
        double err = 0;
        const size_t stride = std::max<size_t>(1, v.size() / 200000);
        for (size_t i = 0; i < v.size(); i += stride) {
          const float q = std::clamp(std::nearbyint(v[i] / scale) + zp, 0.0f, 255.0f);
          const double d = static_cast<double>(v[i]) - static_cast<double>(scale) * (q - zp);
          err += d * d;
        }
        if (best < 0 || err < best) {
          best = err;
          t.scale = scale;
          t.zero_point = static_cast<int32_t>(zp);
        }
      }
    }
    g_.tensors.push_back(t);
    floats_.push_back(f);
    return static_cast<int>(g_.tensors.size()) - 1;
  }

  // Max pooling keeps its input's quantisation (max commutes with it); the global mean gets its own,
  // finer one from the pooled values' range. kernel, stride, pad: a max pool's.
  int pool(deploy::PoolKind kind, int input, const Tensor& f, int64_t kernel = 2, int64_t stride = 2, int64_t pad = 0) {
    int out;
    if (kind == deploy::PoolKind::global_avg) {
      out = add_tensor(f, false);
    } else {
      TensorSpec t = g_.tensors[static_cast<size_t>(input)];
      t.h = f.size(2);
      t.w = f.size(3);
      g_.tensors.push_back(t);
      floats_.push_back(f);
      out = static_cast<int>(g_.tensors.size()) - 1;
    }
    g_.ops.push_back({deploy::Op::Kind::pool, g_.pools.size()});
    g_.pools.push_back({kind, input, out, kernel, stride, pad});
    return out;
  }

  struct ConvArgs {
    const BatchNormBase* bn = nullptr;
    bool relu = false;
    int residual = -1;
    int64_t residual_stride = 1, residual_channel_offset = 0;
    bool relu_after_add = false;
    const Shift2d* shift = nullptr;
    bool f32_output = false;
  };

  // The layer `name` (a Conv2d, or a Linear over the flattened input tensor) reading tensor `input`,
  // whose fused float output is `f`.
  int conv(const std::string& name, WeightLayer& layer, int input, const Tensor& f, const ConvArgs& a) {
    const TensorSpec in = g_.tensors[static_cast<size_t>(input)];
    ConvSpec c;
    c.name = name;
    c.input = input;
    c.cin = in.c;
    Tensor weight = layer.effective_weight();
    std::vector<float> w = weight.to(DType::f32).to_vector<float>();
    if (auto* conv = dynamic_cast<Conv2d*>(&layer)) {
      const Conv2dOptions& o = conv->options();
      SL_CHECK(o.groups() == 1 && o.dilation()[0] == 1 && o.dilation()[1] == 1 && o.stride()[0] == o.stride()[1] &&
                   o.padding()[0] == o.padding()[1],
               "export: {}: grouped, dilated or anisotropic convolutions are not supported by the deploy runtime", name);
      c.kh = o.kernel_size()[0];
      c.kw = o.kernel_size()[1];
      c.stride = o.stride()[0];
      c.pad = o.padding()[0];
      c.cout = o.out_channels();
    } else {
      auto* linear = dynamic_cast<Linear*>(&layer);
      SL_CHECK(linear, "export: {} is a {}, not a Conv2d or Linear", name, layer.type_name());
      SL_CHECK(linear->options().in_features() == in.c * in.h * in.w,
               "export: {} takes {} features but its input has {}x{}x{}", name, linear->options().in_features(), in.c,
               in.h, in.w);
      // A Linear over a flattened [c, h, w] input is a conv whose kernel covers the input.
      c.kh = in.h;
      c.kw = in.w;
      c.cout = linear->options().out_features();
    }
    // PyTorch order [cout][cin][kh][kw] -> the runtime's [cout][kh][kw][cin].
    const int64_t k = c.kh * c.kw * c.cin;
    std::vector<float> reordered(w.size());
    for (int64_t oc = 0; oc < c.cout; ++oc)
      for (int64_t ci = 0; ci < c.cin; ++ci)
        for (int64_t y = 0; y < c.kh; ++y)
          for (int64_t x = 0; x < c.kw; ++x)
            reordered[static_cast<size_t>(oc * k + (y * c.kw + x) * c.cin + ci)] =
                w[static_cast<size_t>(((oc * c.cin + ci) * c.kh + y) * c.kw + x)];
    if (layer.input_quantizer()) map_input(layer, in, c);
    ChannelCodes codes = integer_codes(reordered, c.cout, k);
    c.weights = codes.q;
    std::set<int8_t> distinct(c.weights.begin(), c.weights.end());
    c.levels.assign(distinct.begin(), distinct.end());
    c.code_bits = deploy::code_bits_for(c.levels.size());

    // y = a * (sum w x + bias) + b, with the batch norm's a, b (1, 0 without one).
    std::vector<float> bias(static_cast<size_t>(c.cout), 0.0f);
    Tensor b = layer.effective_bias();
    if (b.defined()) bias = b.to(DType::f32).to_vector<float>();
    std::vector<float> bn_a(static_cast<size_t>(c.cout), 1.0f), bn_b(static_cast<size_t>(c.cout), 0.0f);
    if (a.bn != nullptr) {
      const std::vector<float> mean = a.bn->running_mean().to_vector<float>(), var = a.bn->running_var().to_vector<float>();
      std::vector<float> gamma(mean.size(), 1.0f), beta(mean.size(), 0.0f);
      if (a.bn->weight().defined()) gamma = a.bn->weight().to_vector<float>();
      if (a.bn->bias().defined()) beta = a.bn->bias().to_vector<float>();
      for (size_t i = 0; i < mean.size(); ++i) {
        bn_a[i] = static_cast<float>(gamma[i] / std::sqrt(static_cast<double>(var[i]) + a.bn->options().eps()));
        bn_b[i] = beta[i] - bn_a[i] * mean[i];
      }
    }
    c.out_scale.resize(static_cast<size_t>(c.cout));
    c.bias.resize(static_cast<size_t>(c.cout));
    for (size_t i = 0; i < c.out_scale.size(); ++i) {
      c.out_scale[i] = bn_a[i] * codes.scale[i];
      c.bias[i] = bn_a[i] * bias[i] + bn_b[i];
    }
    if (a.shift != nullptr) {
      SL_CHECK(c.kh == 1 && c.kw == 1 && c.pad == 0, "export: {}: a shift folds only into a 1x1 conv", name);
      c.shift.resize(static_cast<size_t>(2 * c.cin));
      for (int64_t ci = 0; ci < c.cin; ++ci) {
        const ShiftOffset off =
            shift2d_offset(ci, c.cin, a.shift->options().kernel_size(), a.shift->options().dilation());
        SL_CHECK(std::abs(off.dy) <= 127 && std::abs(off.dx) <= 127, "export: {}: shift offset too large", name);
        c.shift[static_cast<size_t>(2 * ci)] = static_cast<int8_t>(off.dy);
        c.shift[static_cast<size_t>(2 * ci + 1)] = static_cast<int8_t>(off.dx);
      }
    }
    c.relu = a.relu;
    c.residual = a.residual;
    c.residual_stride = a.residual_stride;
    c.residual_channel_offset = a.residual_channel_offset;
    c.relu_after_add = a.relu_after_add;
    c.output = add_tensor(f, a.f32_output);
    const auto* q = dynamic_cast<const WeightQuantizer*>(layer.weight_parametrization().get());
    c.weight_format = q ? fmt::format("{} {}-bit", q->method(), q->bits()) : "fp32";

    ExportedLayer rep;
    rep.name = name;
    rep.format = c.weight_format;
    rep.weights = static_cast<int64_t>(c.weights.size());
    rep.levels = c.levels.size();
    rep.code_bits = c.code_bits;
    rep.rounded = codes.rounded;
    rep.zeroed = codes.zeroed;
    rep.inexact_channels = codes.inexact_rows;
    rep.max_relative_error = codes.max_relative_error;
    layers_.push_back(rep);
    g_.ops.push_back({deploy::Op::Kind::conv, g_.convs.size()});
    g_.convs.push_back(std::move(c));
    return g_.convs.back().output;
  }

  // The layer's activation quantiser, evaluated on every code of its input tensor, as a map onto the
  // coarsest uniform grid holding all its outputs (APoT's levels are multiples of one step), or the
  // 255-step grid of their range when none does. Left out when it maps every code to itself.
  static void map_input(WeightLayer& layer, const TensorSpec& in, ConvSpec& c) {
    std::vector<float> xs(256);
    for (int q = 0; q < 256; ++q) xs[static_cast<size_t>(q)] = in.scale * static_cast<float>(q - in.zero_point);
    const std::vector<float> ys = layer.quantize_input(from_vector(xs, {1, 256, 1, 1})).to_vector<float>();
    float lo = 0, hi = 0;
    for (float y : ys) {
      lo = std::min(lo, y);
      hi = std::max(hi, y);
    }
    if (hi == lo) hi = lo + 1;  // all zero: any grid
    float step = (hi - lo) / 255.0f;
    for (int t = 1; t <= 255; ++t) {
      const double st = (static_cast<double>(hi) - lo) / t;
      bool exact = true;
      for (float y : ys) {
        const double v = (y - lo) / st;
        if (std::fabs(v - std::nearbyint(v)) > 1e-4) {
          exact = false;
          break;
        }
      }
      if (exact) {
        step = static_cast<float>(st);
        break;
      }
    }
    const auto zp = static_cast<int32_t>(std::nearbyint(-lo / step));
    std::vector<uint8_t> map(256);
    // Identity up to the quantiser's own rounding of the grid's range (DeepShift's 16.16 fixed point).
    bool identity = zp == in.zero_point && std::fabs(step - in.scale) <= 1e-3f * in.scale;
    for (size_t q = 0; q < 256; ++q) {
      map[q] = static_cast<uint8_t>(std::clamp(std::nearbyint(ys[q] / step) + static_cast<float>(zp), 0.0f, 255.0f));
      identity = identity && map[q] == q;
    }
    if (identity) return;
    c.input_map = std::move(map);
    c.input_scale = step;
    c.input_zero_point = zp;
  }

  ExportResult finish(int output) {
    g_.output = output;
    deploy::validate(g_);
    return {std::move(g_), std::move(layers_)};
  }

 private:
  deploy::Graph g_;
  std::vector<Tensor> floats_;
  std::vector<ExportedLayer> layers_;
};

Tensor flat(const Tensor& x) { return reshape(x, {x.size(0), -1}); }

Walker::ConvArgs with(const BatchNormBase* bn, bool relu) {
  Walker::ConvArgs a;
  a.bn = bn;
  a.relu = relu;
  return a;
}

Walker::ConvArgs float_output() {
  Walker::ConvArgs a;
  a.f32_output = true;
  return a;
}

ExportResult export_conv_mnist(ConvMNIST& m, const Tensor& x) {
  Walker w(x);
  Pool2dArgs pool;
  Tensor h = relu(m.conv1->forward(x));
  int t = w.conv("conv1", *m.conv1, 0, h, with(nullptr, true));
  h = max_pool2d(h, pool);
  t = w.pool(deploy::PoolKind::max, t, h);
  h = relu(m.conv2->forward(h));
  t = w.conv("conv2", *m.conv2, t, h, with(nullptr, true));
  h = max_pool2d(h, pool);
  t = w.pool(deploy::PoolKind::max, t, h);
  h = relu(m.fc1->forward(flat(h)));
  t = w.conv("fc1", *m.fc1, t, h, with(nullptr, true));
  h = m.fc2->forward(h);
  return w.finish(w.conv("fc2", *m.fc2, t, h, float_output()));
}

ExportResult export_linear_mnist(LinearMNIST& m, const Tensor& x) {
  Walker w(x);
  Tensor h = relu(m.fc1->forward(flat(x)));
  int t = w.conv("fc1", *m.fc1, 0, h, with(nullptr, true));
  h = relu(m.fc2->forward(h));
  t = w.conv("fc2", *m.fc2, t, h, with(nullptr, true));
  h = m.fc3->forward(h);
  return w.finish(w.conv("fc3", *m.fc3, t, h, float_output()));
}

// A projection shortcut (conv 1x1 + batch norm) as its own conv; returns its tensor and float value.
std::pair<int, Tensor> projection(Walker& w, const std::string& prefix, Sequential& seq, int input, const Tensor& x) {
  const auto& kids = seq.named_children();
  auto* conv = kids.size() == 2 ? dynamic_cast<Conv2d*>(kids[0].second.get()) : nullptr;
  auto* bn = kids.size() == 2 ? dynamic_cast<BatchNormBase*>(kids[1].second.get()) : nullptr;
  SL_CHECK(conv && bn, "export: {} is not a conv + batch norm shortcut", prefix);
  Tensor f = bn->forward(conv->forward(x));
  return {w.conv(prefix + ".0", *conv, input, f, with(bn, false)), f};
}

ExportResult export_cifar_resnet(CifarResNet& net, const Tensor& x) {
  Walker w(x);
  Tensor h = relu(net.bn1->forward(net.conv1->forward(x)));
  int t = w.conv("conv1", *net.conv1, 0, h, with(net.bn1.get(), true));
  for (size_t s = 0; s < net.layers.size(); ++s) {
    for (const auto& [index, block] : net.layers[s]->named_children()) {
      const std::string prefix = fmt::format("layer{}.{}", s + 1, index);
      Walker::ConvArgs last;
      Tensor sc = h;
      last.residual = t;
      auto shortcut_of = [&](Module& shortcut) {
        if (auto* pad = dynamic_cast<ZeroPadShortcut*>(&shortcut)) {
          last.residual_stride = 2;
          last.residual_channel_offset = pad->pad();
          sc = shortcut.forward(h);
          return;
        }
        auto* seq = dynamic_cast<Sequential*>(&shortcut);
        SL_CHECK(seq, "export: {}.shortcut is a {}", prefix, shortcut.type_name());
        if (seq->empty()) return;
        auto [id, f] = projection(w, prefix + ".shortcut", *seq, t, h);
        last.residual = id;
        sc = f;
      };
      if (auto* b = dynamic_cast<CifarBasicBlock*>(block.get())) {
        Tensor m = relu(b->bn1->forward(b->conv1->forward(h)));
        const int tm = w.conv(prefix + ".conv1", *b->conv1, t, m, with(b->bn1.get(), true));
        shortcut_of(*b->shortcut);
        h = relu(b->bn2->forward(b->conv2->forward(m)) + sc);
        last.bn = b->bn2.get();
        last.relu_after_add = true;
        t = w.conv(prefix + ".conv2", *b->conv2, tm, h, last);
      } else if (auto* sb = dynamic_cast<ShiftConv*>(block.get())) {
        Tensor m = relu(sb->bn1->forward(sb->conv1->forward(h)));
        const int tm = w.conv(prefix + ".conv1", *sb->conv1, t, m, with(sb->bn1.get(), true));
        shortcut_of(*sb->shortcut);
        h = relu(sb->bn2->forward(sb->conv2->forward(sb->shift2->forward(m)))) + sc;
        last.bn = sb->bn2.get();
        last.relu = true;
        last.shift = sb->shift2.get();
        t = w.conv(prefix + ".conv2", *sb->conv2, tm, h, last);
      } else {
        fail("export: {} is a {}; the deploy runtime knows BasicBlock and ShiftConv blocks", prefix, block->type_name());
      }
    }
  }
  // The forward's average pool is global when its kernel equals the final map (resnet20/32/...).
  Pool2dArgs pool;
  pool.kernel = {h.size(2), h.size(3)};
  Tensor pooled = avg_pool2d(h, pool);
  Tensor reference = net.forward(x);
  t = w.pool(deploy::PoolKind::global_avg, t, pooled);
  Tensor logits = net.linear->forward(flat(pooled));
  SL_CHECK(logits.shape() == reference.shape(),
           "export: this ResNet does not end in global average pooling (resnet18-cifar's fixed 4x4 pool is not supported)");
  return w.finish(w.conv("linear", *net.linear, t, logits, float_output()));
}

// torchvision's ResNet-18/34/50 (layers/models/resnet_imagenet.h): the 7x7/2 stem, its 3x3/2 max
// pool, BasicBlocks or Bottlenecks with 1x1 projection shortcuts (downsample.0 / .1), the global
// average pool and fc.
ExportResult export_imagenet_resnet(ResNet& net, const Tensor& x) {
  Walker w(x);
  Tensor h = relu(net.bn1->forward(net.conv1->forward(x)));
  int t = w.conv("conv1", *net.conv1, 0, h, with(net.bn1.get(), true));
  const Pool2dOptions& mp = net.maxpool->options();
  const int64_t pool_stride = mp.stride()[0] == 0 ? mp.kernel_size()[0] : mp.stride()[0];  // 0: the kernel
  SL_CHECK(mp.kernel_size()[0] == mp.kernel_size()[1] && mp.stride()[0] == mp.stride()[1] &&
               mp.padding()[0] == mp.padding()[1],
           "export: the stem's max pool must be square");
  h = net.maxpool->forward(h);
  t = w.pool(deploy::PoolKind::max, t, h, mp.kernel_size()[0], pool_stride, mp.padding()[0]);
  for (size_t s = 0; s < net.layers.size(); ++s) {
    for (const auto& [index, block] : net.layers[s]->named_children()) {
      const std::string prefix = fmt::format("layer{}.{}", s + 1, index);
      Walker::ConvArgs last;
      last.residual = t;
      last.relu_after_add = true;
      Tensor sc = h;
      auto shortcut_of = [&](const std::shared_ptr<Sequential>& downsample) {
        if (!downsample) return;
        auto [id, f] = projection(w, prefix + ".downsample", *downsample, t, h);
        last.residual = id;
        sc = f;
      };
      if (auto* b = dynamic_cast<ResNetBasicBlock*>(block.get())) {
        Tensor m = relu(b->bn1->forward(b->conv1->forward(h)));
        const int tm = w.conv(prefix + ".conv1", *b->conv1, t, m, with(b->bn1.get(), true));
        shortcut_of(b->downsample);
        h = relu(b->bn2->forward(b->conv2->forward(m)) + sc);
        last.bn = b->bn2.get();
        t = w.conv(prefix + ".conv2", *b->conv2, tm, h, last);
      } else if (auto* bb = dynamic_cast<ResNetBottleneck*>(block.get())) {
        Tensor m1 = relu(bb->bn1->forward(bb->conv1->forward(h)));
        const int t1 = w.conv(prefix + ".conv1", *bb->conv1, t, m1, with(bb->bn1.get(), true));
        Tensor m2 = relu(bb->bn2->forward(bb->conv2->forward(m1)));
        const int t2 = w.conv(prefix + ".conv2", *bb->conv2, t1, m2, with(bb->bn2.get(), true));
        shortcut_of(bb->downsample);
        h = relu(bb->bn3->forward(bb->conv3->forward(m2)) + sc);
        last.bn = bb->bn3.get();
        t = w.conv(prefix + ".conv3", *bb->conv3, t2, h, last);
      } else {
        fail("export: {} is a {}; the deploy runtime knows BasicBlock and Bottleneck blocks", prefix, block->type_name());
      }
    }
  }
  Tensor pooled = net.avgpool->forward(h);
  SL_CHECK(pooled.size(2) == 1 && pooled.size(3) == 1, "export: the ResNet's average pool must be global");
  t = w.pool(deploy::PoolKind::global_avg, t, pooled);
  Tensor logits = net.fc->forward(flat(pooled));
  return w.finish(w.conv("fc", *net.fc, t, logits, float_output()));
}

}  // namespace

ExportResult export_model(Module& model, const Tensor& calibration) {
  SL_CHECK(calibration.dim() == 4 && calibration.size(0) > 0, "export: calibration images must be [n, c, h, w], got {}",
           shape_str(calibration.shape()));
  model.eval();
  NoGradGuard no_grad;
  const Tensor x = calibration.to(DType::f32);
  if (auto* m = dynamic_cast<ConvMNIST*>(&model)) return export_conv_mnist(*m, x);
  if (auto* m = dynamic_cast<LinearMNIST*>(&model)) return export_linear_mnist(*m, x);
  if (auto* m = dynamic_cast<CifarResNet*>(&model)) return export_cifar_resnet(*m, x);
  if (auto* m = dynamic_cast<ResNet*>(&model)) return export_imagenet_resnet(*m, x);
  fail("export: the deploy runtime does not support a {} yet (supported: mnist-fc, mnist-conv, the CIFAR ResNets "
       "and ShiftResNets, the ImageNet ResNets)",
       model.type_name());
}

}  // namespace sl
