// Broadcasting plan shared by the CPU and CUDA element-wise kernels: the output's dimensions with
// each input's stride (0 where it is broadcast), adjacent dimensions merged when both inputs allow.
#pragma once
#include <cstdint>

#include "engine/shape.h"

namespace sl {

constexpr int kMaxBroadcastDims = 8;

struct BroadcastPlan {
  int ndim = 0;
  int64_t size[kMaxBroadcastDims] = {};
  int64_t stride_a[kMaxBroadcastDims] = {};
  int64_t stride_b[kMaxBroadcastDims] = {};
  int64_t numel = 1;
};

BroadcastPlan plan_broadcast(const Shape& a, const Shape& b, const Shape& out);

}  // namespace sl
