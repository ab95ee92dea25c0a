// A float weight matrix as integers in [-127, 127] (the deploy runtime's range) and one float scale
// per output channel (w ~ scale * q). A channel whose values are all integer multiples of one step, at
// most 127 steps from zero, is exact: shift, S3, DenseShift and APoT weights are within 64 steps (their
// levels are sums of powers of two times one scale), APoT's 8-bit layers within 127. Other channels
// are rounded and the report counts what changed: a power-of-two channel spanning more than 7
// exponents to 1/64 of its largest magnitude (its 7 largest exponents stay exact and the layer within
// [-64, 64], the deploy kernels' fast range), any other (FP32 layers) to 1/127, as 8-bit per-channel
// integers.
#pragma once
#include <cstdint>
#include <vector>

namespace sl {

struct ChannelCodes {
  std::vector<int8_t> q;        // [rows][cols]
  std::vector<float> scale;     // [rows]
  int64_t rounded = 0;          // weights whose value changed (beyond float rounding)
  int64_t zeroed = 0;           // non-zero weights that became 0
  int64_t inexact_rows = 0;     // channels that were rounded
  double max_relative_error = 0;  // over changed weights: |w - scale * q| / max |w| of the channel
};

ChannelCodes integer_codes(const std::vector<float>& w, int64_t rows, int64_t cols);

}  // namespace sl
