// Depthwise convs on the CPU (f32): one input and one output channel per group, as MobileNetV2's
// 3x3 convs. Each (image, channel) plane is a small direct conv over the padded layout of the
// implicit GEMM (conv_layout.h) instead of a GEMM with one output row per group.
#pragma once
#include "backends/params.h"

namespace sl::cpu {

// One input and one output channel per group (groups = cin = cout > 1).
bool is_depthwise(const Conv2dParams& p);

// A depthwise conv of stride 1, or 2 with a spatial kernel: the forward and weight gradient here.
bool depthwise_applies(const Conv2dParams& p);

// y = conv(x, w): each output the chain of multiply-adds over the taps in order that the implicit
// GEMM computes, so the same bits.
void depthwise_forward(const Conv2dParams& p, const float* x, const float* w, float* y);

// gx for a depthwise conv of any stride (cin = cout = groups): the products w * gy added into zeros
// tap by tap in (i, j, oh, ow) order, as the GEMM + col2im path adds them, so the same bits.
void depthwise_backward_input(const Conv2dParams& p, const float* gy, const float* w, float* gx);

// gw, where depthwise_applies: per channel, per fixed part of the batch (8 parts, in order), the
// products summed in 16 lanes (ow mod 16) over the images, rows and columns, folded pairwise, then
// the parts added in order: the same bits for any thread count and every FMA target.
void depthwise_backward_weight(const Conv2dParams& p, const float* x, const float* gy, float* gw);

}  // namespace sl::cpu
