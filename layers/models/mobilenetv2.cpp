// MobileNetV2 (CIFAR). No custom init in the reference: PyTorch's layer defaults.
#include "layers/models/mobilenetv2.h"

#include "layers/models/common.h"

namespace sl {

namespace {
std::shared_ptr<Conv2d> conv(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t groups = 1) {
  return std::make_shared<Conv2d>(Conv2dOptions(cin, cout, k).stride(stride).padding(k / 2).groups(groups).bias(false));
}

// (expansion t, out channels c, blocks n, first stride s), CIFAR strides.
struct Stage {
  int64_t t, c, n, s;
};
constexpr Stage kStages[] = {{1, 16, 1, 1}, {6, 24, 2, 1},  {6, 32, 3, 2}, {6, 64, 4, 2},
                             {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
}  // namespace

MobileNetV2Block::MobileNetV2Block(int64_t in_planes, int64_t out_planes, int64_t expansion, int64_t stride)
    : stride_(stride) {
  int64_t planes = expansion * in_planes;
  conv1 = register_module("conv1", conv(in_planes, planes, 1, 1));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride, planes));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  conv3 = register_module("conv3", conv(planes, out_planes, 1, 1));
  bn3 = register_module("bn3", std::make_shared<BatchNorm2d>(out_planes));
  shortcut = register_module("shortcut", std::make_shared<Sequential>());
  if (stride == 1 && in_planes != out_planes) {
    shortcut->push_back(conv(in_planes, out_planes, 1, 1));
    shortcut->push_back(std::make_shared<BatchNorm2d>(out_planes));
  }
}

Tensor MobileNetV2Block::forward(const Tensor& x) {
  Tensor out = bn1->forward_relu(conv1->forward(x));
  out = bn2->forward_relu(conv2->forward(out));
  out = bn3->forward(conv3->forward(out));
  return stride_ == 1 ? out + shortcut->forward(x) : out;
}

MobileNetV2::MobileNetV2(int64_t in_channels, int64_t num_classes) {
  conv1 = register_module("conv1", conv(in_channels, 32, 3, 1));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(32));
  layers = register_module("layers", std::make_shared<Sequential>());
  int64_t in_planes = 32;
  for (const Stage& st : kStages) {
    for (int64_t b = 0; b < st.n; ++b) {
      layers->push_back(std::make_shared<MobileNetV2Block>(in_planes, st.c, st.t, b == 0 ? st.s : 1));
      in_planes = st.c;
    }
  }
  conv2 = register_module("conv2", conv(320, 1280, 1, 1));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(1280));
  linear = register_module("linear", std::make_shared<Linear>(1280, num_classes));
}

Tensor MobileNetV2::forward(const Tensor& x) {
  Tensor out = bn1->forward_relu(conv1->forward(x));
  out = layers->forward(out);
  out = bn2->forward_relu(conv2->forward(out));
  Pool2dArgs pool;
  pool.kernel = {4, 4};
  out = avg_pool2d(out, pool);
  return linear->forward(reshape(out, {out.size(0), -1}));
}

namespace models {

ModulePtr make_mobilenetv2(const std::string& arch, const ModelOptions& o) {
  int64_t f = o.image_size;
  for (const Stage& st : kStages)
    if (st.s == 2) f = window_out(f, 3, 2, 1);
  SL_CHECK(f >= 4 && f <= 7,
           "make_model(\"{}\"): image_size {} gives a {}x{} final feature map, but the fixed 4x4 average pool "
           "followed by Linear(1280) needs 4x4 to 7x7: image_size must be in [25, 56] (the reference input is 32)",
           arch, o.image_size, f, f);
  auto m = std::make_shared<MobileNetV2>(o.in_channels, o.num_classes);
  apply_init(*m, o, "pytorch");
  return m;
}

}  // namespace models

}  // namespace sl
