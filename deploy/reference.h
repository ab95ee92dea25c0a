// The scalar integer reference of every deploy op: plain loops, the same integer sums and the same
// IEEE float epilogue as the kernels (multiply, then add; no fused multiply-add), so the SIMD
// runtime must match it bit for bit on every target (test/test_deploy_kernels.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "deploy/model.h"

namespace sl::deploy {

// Runs the graph on n float NCHW images; returns the logits [n, outputs] and, when `tensors` is
// given, every uint8 NHWC tensor (index = tensor id; the float output's entry stays empty).
std::vector<float> reference_run(const Graph& g, const float* images, int64_t n,
                                 std::vector<std::vector<uint8_t>>* tensors = nullptr);

}  // namespace sl::deploy
