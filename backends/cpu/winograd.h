// Winograd's F(4x4, 3x3) and F(2x2, 3x3) algorithms for the f32 3x3 stride-1 convolutions (ResNets'
// body): a 4 x 4 block of outputs costs 36 multiply-adds per channel pair instead of 144, a 2 x 2
// block 16 instead of 36. conv2d.cpp takes them for the forward pass, the input gradient (itself a 3x3
// conv of gy) and the weight gradient when winograd_applies; results differ from the direct conv's by
// rounding only, and do not depend on the thread count or on the SIMD target among those with FMA.
#pragma once
#include "backends/params.h"

namespace sl::cpu {

// 3x3 kernel, stride 1, dilation 1, one group, at least 8 channels in and out (below that the small
// GEMMs lose to the direct conv), an output of at least 2 x 2, and the switch on.
bool winograd_applies(const Conv2dParams& p);

// The output tile side: 4 (F(4x4, 3x3)) for outputs at least 32 wide, else 2.
int64_t winograd_tile_size(const Conv2dParams& p);

// On by default; off makes every conv take the direct path (bench train / conv --winograd off, tests).
// Returns the previous setting.
bool set_winograd_enabled(bool on);

// Sets the switch for a scope and puts the previous setting back, whatever happens.
class ScopedWinograd {
 public:
  explicit ScopedWinograd(bool on) : previous_(set_winograd_enabled(on)) {}
  ~ScopedWinograd() { set_winograd_enabled(previous_); }
  ScopedWinograd(const ScopedWinograd&) = delete;
  ScopedWinograd& operator=(const ScopedWinograd&) = delete;

 private:
  bool previous_;
};

// Floats of transforms per chunk of tiles; 0 (the default) derives it from the L2 cache size. Results
// do not depend on it; tests set it to cover bands and multi-image chunks on any machine. Returns the
// previous setting.
int64_t set_winograd_chunk_floats(int64_t floats);

// For a conv where winograd_applies (not checked again): y = conv(x, w) (the input gradient is this
// conv of gy with the kernels flipped); gw = d/dw of sum(gy * y), summed over the batch in a fixed
// order.
void winograd_forward(const Conv2dParams& p, const float* x, const float* w, float* y);
void winograd_backward_weight(const Conv2dParams& p, const float* x, const float* gy, float* gw);

}  // namespace sl::cpu
