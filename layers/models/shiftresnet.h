// ShiftResNet (Wu et al., "Shift: A Zero FLOP, Zero Parameter Alternative to Spatial Convolutions",
// CVPR 2018) as alvinwan/shiftresnet-cifar builds it (models/shiftresnet.py): the CIFAR ResNet
// layout (stem, 3 stages at 16/32/64, avg pool, linear) with conv-shift-conv blocks, plus count.py's
// parameter/"FLOP" figures for those nets and for the reduced ResNet baselines (resnet_cifar.h).
// Module names follow the reference: conv1, bn1, layer1.0.{conv1, bn1, shift2, conv2, bn2,
// shortcut.0, shortcut.1}, linear.
#pragma once
#include <memory>
#include <string>

#include "layers/models/resnet_cifar.h"
#include "layers/shift.h"

namespace sl {

// ShiftConv(in, out, stride, expansion), mid = int(out * expansion) (of the OUTPUT width, as the
// code; the README's "a = e * c" uses the input width, which differs in the first block of stages 2
// and 3, where the code's mid is twice the README's):
//   t = ReLU(bn1(conv1(x)))            conv1: 1x1, in -> mid, stride 1, no bias
//   t = shift2(t)                      Shift2d(kernel), no parameters
//   t = ReLU(bn2(conv2(t)))            conv2: 1x1, mid -> out, stride `stride` (after the shift)
//   return t + shortcut(x)             no ReLU after the add (unlike BasicBlock)
// shortcut: identity (empty Sequential) when stride == 1 and in == out, else 1x1 conv(stride) + BN.
class ShiftConv : public Module {
 public:
  // Throws when int(out * expansion) is 0 or the shift kernel is even.
  ShiftConv(int64_t in_planes, int64_t out_planes, int64_t stride, double expansion, int64_t shift_kernel = 3);
  std::string type_name() const override { return "ShiftConv"; }
  Tensor forward(const Tensor& x) override;
  int64_t in_planes() const { return in_planes_; }
  int64_t mid_planes() const { return mid_planes_; }
  int64_t out_planes() const { return out_planes_; }

  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Shift2d> shift2;
  std::shared_ptr<Sequential> shortcut;

 private:
  int64_t in_planes_, mid_planes_, out_planes_;
};

// count.py's multiply-accumulate count ("FLOPs") of a shiftresnet-cifar network after one forward of
// `input` (count.py always uses 1 x 3 x 32 x 32), term by term as the reference computes it:
//   BasicBlock: Hm*Wm*9*mid*in + Ho*Wo*9*mid*out [+ in*out*Ho*Wo with a projection shortcut]
//   ShiftConv:  Hi*Wi*in*mid + Ho*Wo*mid*out [+ in*out*Ho*Wo with a projection shortcut]
//   stem:       readme: Hs*Ws*9*C_last (before commit 255228f, 2018-08-18: the formula behind the
//               README's figures); head: Hs*Ws*9*C_last*3. Both use the last stage's width C_last
//               instead of the stem's (ResNet.in_planes has been overwritten by then); the true stem
//               MACs are Hs*Ws*9*C_in*16.
//   fc:         C_last * classes (weight only, no bias)
// BN, ReLU, shift, pooling and residual adds are 0. The sum equals the true MAC count
// (layers/flops.h) except for the stem term.
enum class CountPyStem { readme, head };
struct CountPyFlops {
  int64_t blocks = 0, stem = 0, fc = 0;
  int64_t stem_h = 0, stem_w = 0, c_last = 0;  // the factors of the stem term
  int64_t total() const { return blocks + stem + fc; }
};
// Throws unless `model` is a 3-stage CifarResNet whose blocks are ShiftConvs or BasicBlocks with
// identity / projection (option B) shortcuts: count.py defines nothing else.
CountPyFlops count_py_flops(Module& model, const Shape& input, CountPyStem stem = CountPyStem::readme);
// Whether count_py_flops accepts the model (without running it).
bool count_py_applies(const Module& model);

namespace models {
// shiftresnet20/56/110 with options.expansion and options.shift_kernel.
ModulePtr make_shiftresnet(const std::string& arch, const ModelOptions& o);
}  // namespace models

}  // namespace sl
