// The input layouts of the implicit-GEMM convolutions (conv2d.cpp) and the depthwise convs
// (depthwise.cpp): zero-padded planes, or for stride 2 each channel's four phases, and the row
// pointer where each tap of a channel starts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/params.h"

namespace sl::cpu {

// Zero-padded input planes for the implicit-GEMM paths. Stride 1: plane c is (h + 2ph) x wp with
// wp = w + 2pw. Stride 2 (polyphase): each channel's four phases (even/odd rows x even/odd columns)
// are planes of their own, hp x wp with `top` / `left` zeros before the data, so tap (i, j) reads one
// phase at a stride-1 offset and the conv is an implicit GEMM too. Only the interior is written, so a
// zeroed buffer keeps its zero borders.
struct PaddedLayout {
  int64_t hp, wp, plane;
  int64_t phases;     // planes per channel: 1, or 4 for stride 2
  int64_t top, left;  // zero rows / columns before the data of a plane
  size_t size;        // with slack: the dropped columns of the last output row read a little past the end
};

// Stride-2 convs with a spatial kernel take the polyphase layout (a 1x1 stride-2 conv reads one
// phase of four: im2col gathers just that one).
bool polyphase(const Conv2dParams& p);

// The strides the implicit-GEMM paths take: 1, or 2 with a spatial kernel.
bool implicit_stride(const Conv2dParams& p);

PaddedLayout padded_layout(const Conv2dParams& p, int64_t channels);

// The interior of `channels` planes (or their phases) of x written into a zeroed buffer of the layout.
void pad_planes(const Conv2dParams& p, const PaddedLayout& l, int64_t channels, const float* x, float* padded);

// Row (c, i, j) of the implicit column matrix: where tap (i, j) of channel c starts. Output pixel
// (oh, ow) reads it at oh * wp + ow.
void tap_rows(const Conv2dParams& p, const PaddedLayout& l, int64_t channels, const float* padded,
              std::vector<const float*>& rows);

}  // namespace sl::cpu
