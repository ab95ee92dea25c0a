// ShiftConv blocks, the ShiftResNet builder and count.py's FLOP formula (shiftresnet-cifar
// models/{shiftresnet,resnet}.py and count.py at 289a1a1, README-era stem term before 255228f).
#include "layers/models/shiftresnet.h"

#include "layers/flops.h"
#include "layers/models/common.h"

namespace sl {

ShiftConv::ShiftConv(int64_t in_planes, int64_t out_planes, int64_t stride, double expansion, int64_t shift_kernel)
    : in_planes_(in_planes), out_planes_(out_planes) {
  // int(out_planes * self.expansion): truncation of the float product, as the reference.
  mid_planes_ = static_cast<int64_t>(static_cast<double>(out_planes) * expansion);
  SL_CHECK(mid_planes_ >= 1, "ShiftConv: expansion {} gives int({} * {}) = {} middle channels; it must give at least 1",
           expansion, out_planes, expansion, mid_planes_);
  conv1 = register_module("conv1", std::make_shared<Conv2d>(Conv2dOptions(in_planes, mid_planes_, 1).bias(false)));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(mid_planes_));
  shift2 = register_module("shift2", std::make_shared<Shift2d>(Shift2dOptions().kernel_size(shift_kernel)));
  conv2 = register_module(
      "conv2", std::make_shared<Conv2d>(Conv2dOptions(mid_planes_, out_planes, 1).stride(stride).bias(false)));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(out_planes));
  shortcut = register_module("shortcut", std::make_shared<Sequential>());
  if (stride != 1 || in_planes != out_planes) {
    shortcut->push_back(std::make_shared<Conv2d>(Conv2dOptions(in_planes, out_planes, 1).stride(stride).bias(false)));
    shortcut->push_back(std::make_shared<BatchNorm2d>(out_planes));
  }
}

Tensor ShiftConv::forward(const Tensor& x) {
  Tensor t = bn1->forward_relu(conv1->forward(x));
  // The stride sits in conv2, after the shift: shifting first keeps every offset's information in
  // the subsampled grid (the reference's order).
  // shift2 is read by conv2 as addressing (no shifted copy), the same function as the composition.
  const Shift2dOptions& so = shift2->options();
  t = bn2->forward_relu(conv2->forward_shifted(t, so.kernel_size(), so.dilation()));
  return t + shortcut->forward(x);
}

namespace {

int64_t hw(const Shape& s) { return s.at(2) * s.at(3); }

// The projection term both block types add, or 0 for an identity shortcut.
int64_t shortcut_flops(const Module& shortcut, int64_t in, int64_t out, const Shape& out_shape) {
  const auto* seq = dynamic_cast<const Sequential*>(&shortcut);
  SL_CHECK(seq != nullptr, "count.py FLOPs: a {} shortcut is not defined by count.py (option B only)",
           shortcut.type_name());
  return seq->empty() ? 0 : in * out * hw(out_shape);
}

// Why count_py_flops would refuse the model ("" when it accepts it).
std::string count_py_refusal(const Module& model) {
  const auto* net = dynamic_cast<const CifarResNet*>(&model);
  if (net == nullptr) return fmt::format("a {} is not a shiftresnet-cifar ResNet", model.type_name());
  if (net->layers.size() != 3) return "count.py's ResNet has 3 stages";
  for (const auto& stage : net->layers)
    for (const auto& kv : stage->named_children()) {
      const Module* b = kv.second.get();
      if (dynamic_cast<const ShiftConv*>(b) != nullptr) continue;
      const auto* basic = dynamic_cast<const CifarBasicBlock*>(b);
      if (basic == nullptr) return fmt::format("count.py has no formula for a {} block", b->type_name());
      if (dynamic_cast<const Sequential*>(basic->shortcut.get()) == nullptr)
        return "count.py's ResNets use option-B (projection) shortcuts, not option A";
    }
  return "";
}

}  // namespace

bool count_py_applies(const Module& model) { return count_py_refusal(model).empty(); }

CountPyFlops count_py_flops(Module& model, const Shape& input, CountPyStem stem) {
  std::string why = count_py_refusal(model);
  SL_CHECK(why.empty(), "count.py FLOPs: {}", why);
  auto& net = dynamic_cast<CifarResNet&>(model);
  layer_macs(model, input);  // one forward: every conv records its input and output shapes
  CountPyFlops f;
  for (const auto& stage : net.layers) {
    for (const auto& kv : stage->named_children()) {
      if (auto* s = dynamic_cast<ShiftConv*>(kv.second.get())) {
        const Shape& mid = s->conv1->last_output_shape();  // Hi x Wi: conv1 has stride 1
        const Shape& out = s->conv2->last_output_shape();
        f.blocks += hw(mid) * s->in_planes() * s->mid_planes() + hw(out) * s->mid_planes() * s->out_planes() +
                    shortcut_flops(*s->shortcut, s->in_planes(), s->out_planes(), out);
      } else {
        auto* b = dynamic_cast<CifarBasicBlock*>(kv.second.get());
        int64_t in = b->conv1->options().in_channels(), mid_c = b->conv1->options().out_channels();
        int64_t out_c = b->conv2->options().out_channels();
        const Shape& mid = b->conv1->last_output_shape();  // Hm x Wm: conv1 carries the stride
        const Shape& out = b->conv2->last_output_shape();
        f.blocks +=
            hw(mid) * 9 * mid_c * in + hw(out) * 9 * mid_c * out_c + shortcut_flops(*b->shortcut, in, out_c, out);
      }
    }
  }
  f.c_last = net.linear->options().in_features();
  f.stem_h = net.conv1->last_output_shape().at(2);
  f.stem_w = net.conv1->last_output_shape().at(3);
  f.stem = f.stem_h * f.stem_w * 9 * f.c_last * (stem == CountPyStem::head ? 3 : 1);
  f.fc = f.c_last * net.linear->options().out_features();
  return f;
}

namespace models {

ModulePtr make_shiftresnet(const std::string& arch, const ModelOptions& o) {
  int64_t depth = std::stoll(arch.substr(11));  // "shiftresnet20" -> 20
  int64_t n = (depth - 2) / 6;
  SL_CHECK(o.image_size >= 8,
           "make_model(\"{}\"): image_size {} is too small: the two stride-2 stages need at least 8 pixels "
           "(the reference input is 32)",
           arch, o.image_size);
  // Checked here too so the message names the option rather than the block.
  int64_t mid = static_cast<int64_t>(16.0 * o.expansion);
  SL_CHECK(mid >= 1, "make_model(\"{}\"): expansion {} gives int(16 * {}) = 0 middle channels in the first stage", arch,
           o.expansion, o.expansion);
  BlockFactory block = [e = o.expansion, k = o.shift_kernel](int64_t in, int64_t planes, int64_t stride) {
    return std::make_shared<ShiftConv>(in, planes, stride, e, k);
  };
  // The reference pools with avg_pool2d(out, 8), which is global pooling at its 32 x 32 input;
  // pooling globally keeps other sizes (28 x 28 Fashion-MNIST) working with the same Linear(64).
  auto m = std::make_shared<CifarResNet>(std::vector<int64_t>{n, n, n}, std::vector<int64_t>{16, 32, 64}, o.in_channels,
                                         o.num_classes, block, 0);
  apply_init(*m, o, "pytorch");
  return m;
}

}  // namespace models

}  // namespace sl
