// The deploy runtime's integer kernels: one DeployKernels table per SIMD target (the same targets and
// order as the training kernels, backends/cpu/simd/target.h), so SHIFTLAB_CPU_TARGET and
// ScopedCpuTarget switch both. Activations are uint8 NHWC with a per-tensor scale and zero point
// (real = scale * (q - zero_point)); weights are int8 per output channel.
//
// A convolution is an implicit GEMM: output pixels are rows, output channels columns, k runs over
// (ky, kx, input channel), read straight from the NHWC input (no im2col copy). k is taken in groups
// of 4 uint8 x int8 products summed into a 32-bit lane: vpdpbusd on AVX-512 VNNI, pmaddubsw +
// pmaddwd on SSE4 / AVX2 / AVX-512, widening arithmetic elsewhere. The 32-bit sums are exact; the
// epilogue (scale, bias, ReLU, residual add, requantisation) is the same sequence of IEEE float
// operations on every target, so every target matches the scalar reference (deploy/reference.h)
// bit for bit.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace sl::deploy {

// Channels are stored in groups of 4 (the bytes one 32-bit lane multiplies): a tensor of c channels
// has a channel stride of channel_stride(c) bytes per pixel; the padding channels meet zero weights.
// Images of 1 to 3 channels are stored dense: a conv reads a kernel row of kw pixels as kw * c
// contiguous bytes (then rounded up to groups of 4), so a 1-channel 5x5 conv multiplies 8 bytes a
// row, not 20.
inline int64_t channel_stride(int64_t c) { return c < 4 ? c : (c + 3) / 4 * 4; }

// Groups of 4 bytes a conv multiplies per kernel row: kw pixels of cs bytes.
inline int64_t row_groups(int64_t kw, int64_t cs) { return (kw * cs + 3) / 4; }

// Bytes after the last pixel of every activation buffer: a kernel row's last group of 4 may reach
// up to 3 bytes past its last pixel (their weights are zero).
constexpr int64_t kReadSlack = 4;

// Weights are int8 in [-kMaxWeight, kMaxWeight] (8-bit per-channel integers). Layers within
// [-kMaxNarrowWeight, kMaxNarrowWeight] (every shift family's) are narrow: the pairwise uint8 x int8
// sums of pmaddubsw (255 * 64 * 2 = 32640) never saturate, so the non-VNNI targets sum exactly as
// vpdpbusd does in one pass. Wider layers take two passes there (PackedWeights::split).
constexpr int kMaxWeight = 127;
constexpr int kMaxNarrowWeight = 64;

// Nearest (half to even) of t clamped to [0, 255]: a code.
inline uint8_t epilogue_to_code(float t) {
  return static_cast<uint8_t>(std::nearbyint(std::min(std::max(t, 0.0f), 255.0f)));
}

// The requantisation every kernel and the scalar reference share: nearest (half to even) of
// y * inv_scale + zero_point, clamped to [0, 255], in this order of float operations.
inline uint8_t requantize(float y, float inv_scale, int32_t zero_point) {
  return epilogue_to_code(y * inv_scale + static_cast<float>(zero_point));
}

// The conv epilogue works in the output's code domain (the f32 output's is the real one: inverse
// scale 1, zero point 0), so the requantisation costs no operation of its own: with
// inv = 1 / out_scale and z = out_zero_point,
//   t = float(acc - correction) * multiplier + bias     multiplier = (w_scale * in_scale) * inv,
//                                                       bias = real_bias * inv + z
//   ReLU: t = max(t, z);  residual add: t = t + float(q - r_zero_point) * (r_scale * inv)
//   uint8: nearest (half to even) of min(max(t, 0), 255).
// These helpers fix the constants' float operations for the kernels and the scalar reference alike.
inline float epilogue_multiplier(float w_scale, float in_scale, float inv) { return (w_scale * in_scale) * inv; }
inline float epilogue_bias(float real_bias, float inv, int32_t zero_point) {
  return real_bias * inv + static_cast<float>(zero_point);
}
inline float epilogue_residual_scale(float r_scale, float inv) { return r_scale * inv; }

// A uint8 NHWC tensor view (channel stride cs = channel_stride(c)). Each image is stored with a
// frame of `border` pixels of the zero point on every side (the largest padding of the convs that
// read it), so a padded window is read in place, like any other, without a copy or a bounds check.
struct QTensorView {
  const uint8_t* data = nullptr;
  int64_t n = 0, h = 0, w = 0, c = 0, cs = 0, border = 0;
  float scale = 1;
  int32_t zero_point = 0;

  int64_t row_bytes() const { return (w + 2 * border) * cs; }
  int64_t image_bytes() const { return (h + 2 * border) * row_bytes(); }
  // Pixel (y, x) of image img; -border <= y < h + border, likewise x.
  int64_t offset(int64_t img, int64_t y, int64_t x) const {
    return img * image_bytes() + (y + border) * row_bytes() + (x + border) * cs;
  }
  const uint8_t* at(int64_t img, int64_t y, int64_t x) const { return data + offset(img, y, x); }
};

// Bytes of n images of h x w pixels of c channels with a frame of `border` pixels.
inline int64_t tensor_bytes(int64_t n, int64_t h, int64_t w, int64_t c, int64_t border) {
  return n * (h + 2 * border) * (w + 2 * border) * channel_stride(c);
}

// Weights rearranged for one target: panels of `panel_width` output channels; within a panel, k in
// (ky, group of the kernel row's kw * cs bytes) order, each group one 32-bit word (4 int8) per
// channel: word ((p * groups + g) * panel_width + j) (panels twice as far apart when split). Zero
// beyond the real channels (output and input) and past a kernel row's bytes.
struct PackedWeights {
  int64_t cout = 0, kh = 0, kw = 0, cin = 0, groups = 0, panels = 0, panel_width = 0;
  int64_t row_groups = 0;  // groups per kernel row; groups = kh * row_groups, padded to int16_depth
  // Targets that multiply with pmaddubsw (SSE4, AVX2, AVX-512 without VNNI): how many groups' int16
  // pair sums may be added in int16 before widening to int32, i.e. the largest of 1, 2, 4 for which
  // every output channel's |weights| over those groups, per pair, sum to at most 128 (times 255 that
  // fits an int16). Few-level weights (DenseShift, S3, APoT: |w| <= 16) get 4, saving 3 of 4
  // widening multiplies; DeepShift's 7 exponents up to 64 usually get 1. Always 1 with VNNI.
  int64_t int16_depth = 1;
  // pmaddubsw targets, a layer with weights beyond +-kMaxNarrowWeight: each panel holds w >> 1 (in
  // [-64, 63]) and after it, groups * panel_width words on, w & 1; the sums are 2 * the first's + the
  // second's.
  bool split = false;
  std::vector<int8_t> data;
};

// Integer Winograd F(2x2, 3x3) for the 3x3 stride-1 convs on the pmaddubsw targets
// (winograd_kernels.cpp). Each 2x2 block of output pixels (a tile) is A^T [U . V] A, with
// V = B^T d B of its 4x4 input patch d (uint8 codes; int16 after the transform, |V| <= 4 * 255) and
// U = (2G) g (2G)^T of each 3x3 kernel g (int16, |U| <= 9 * 127): 16 products per channel and tile
// instead of 36, summed over channel pairs by pmaddwd. Every sum is an exact integer: the output
// transform yields 4 times the direct conv's sum (wrapping int32 arithmetic is exact modulo 2^32,
// and 4 * 9 * 255 * 127 * cin fits an int32 for cin <= kWinogradMaxChannels), so the conv's output
// is the direct GEMM's bit for bit, epilogue included.
constexpr int64_t kWinogradMaxChannels = 1840;

// The convs Winograd can take: 3x3, stride 1, no folded shift, input channels in groups of 4 (not
// a dense 1-3 channel image) and few enough for exact int32 sums.
inline bool winograd_shape(int64_t kh, int64_t kw, int64_t stride, int64_t cin, bool shift) {
  return kh == 3 && kw == 3 && stride == 1 && !shift && cin >= 4 && cin <= kWinogradMaxChannels;
}

// Winograd saves products (per input x output channel of a pixel) but adds transforms per channel,
// so the narrowest layers may lose. resnet20 at batch 128 on `avx2` (Zen 3, `bench infer --winograd
// all off --profile`, 1 thread): 16->16 3.5 against 4.0 ms, 32->32 2.9 against 3.5, 64->64 2.6
// against 3.4. Narrower layers were not measured, and inputs of fewer than 16 channels take a copy of
// each patch on AVX2 and AVX-512 (the transform's vectors hold 16 channels).
constexpr int64_t kWinogradMinChannels = 16;
inline bool winograd_pays(int64_t cin, int64_t cout) {
  return cin >= kWinogradMinChannels && cout >= kWinogradMinChannels;
}

// Tiles of n images of ho x wo output pixels (a partial tile at an odd edge).
inline int64_t winograd_tiles(int64_t n, int64_t ho, int64_t wo) { return n * ((ho + 1) / 2) * ((wo + 1) / 2); }

// U for one target: per panel of panel_width output channels, per transform position p (16, row
// major), per input channel pair k (pairs = channel_stride(cin) / 2): panel_width 32-bit words,
// each the int16 U of channels 2k (low half) and 2k + 1 (high half) for one output channel. Zero
// beyond the real channels.
struct WinogradWeights {
  int64_t cout = 0, cin = 0, pairs = 0, panels = 0, panel_width = 0;
  std::vector<int32_t> data;
};

struct ConvJob {
  QTensorView input;  // its frame at least pad wide (the shift's reads are bounds-checked)
  int64_t kh = 1, kw = 1, stride = 1, pad = 0;
  int64_t ho = 0, wo = 0, cout = 0;
  // Per input channel (dy, dx) read offsets (ShiftResNet's shift folded into a 1x1 conv), or null.
  const int8_t* shift = nullptr;
  const PackedWeights* weights = nullptr;
  const WinogradWeights* winograd = nullptr;  // for conv_winograd (which ignores `weights`)
  // Per output channel, padded with zeros to panels * panel_width: the exact integer correction
  // zero_point * sum(w), then t = float(acc - correction) * multiplier + bias in the output's code
  // domain (epilogue_multiplier, epilogue_bias).
  const int32_t* correction = nullptr;
  const float* multiplier = nullptr;
  const float* bias = nullptr;
  bool relu = false;             // after the bias
  // What the conv adds before its last ReLU: a uint8 tensor of the output's shape and channels,
  // read pixel for pixel (the runtime lays out ResNet's option-A shortcut so), or null.
  const QTensorView* residual = nullptr;
  float residual_scale = 0;      // epilogue_residual_scale
  bool relu_after_add = false;
  // Output: uint8 NHWC (channel stride channel_stride(cout), a frame of out_border pixels that the
  // kernel leaves alone), or float [rows][cout] when out_f32 is set. out_zero_point: the ReLU floor
  // (0 for float).
  uint8_t* out_u8 = nullptr;
  int64_t out_border = 0;
  float* out_f32 = nullptr;
  int32_t out_zero_point = 0;
};

struct DeployKernels {
  const char* target = "";
  int lanes = 0;        // int32 lanes per vector (output channels per vector)
  int64_t tile_rows = 0;                           // output pixels per tile (largest)
  // Packs int8 weights [cout][kh][kw][cin] for this target.
  void (*pack_weights)(const int8_t* w, int64_t cout, int64_t kh, int64_t kw, int64_t cin, PackedWeights& out) = nullptr;
  // Rows (output pixels, n * ho * wo in order) [row_begin, row_end) of a convolution.
  void (*conv_rows)(const ConvJob& job, int64_t row_begin, int64_t row_end) = nullptr;
  // Integer Winograd F(2x2, 3x3) (see WinogradWeights); null on the targets without pmaddwd's int16
  // pair products (VNNI's vpdpbusd direct GEMM is faster than it; scalar and NEON run the GEMM).
  void (*pack_winograd)(const int8_t* w, int64_t cout, int64_t cin, WinogradWeights& out) = nullptr;
  // Tiles [tile_begin, tile_end) (n * ceil(ho / 2) * ceil(wo / 2) in order) of a winograd_shape conv.
  void (*conv_winograd)(const ConvJob& job, int64_t tile_begin, int64_t tile_end) = nullptr;
  // Max pooling over kernel x kernel windows (stride, pad; padding never wins) on output pixels
  // [begin, end) (n * ho * wo in order) of `out` (same channels as `in`, its own frame); out.data is
  // written through.
  void (*max_pool)(const QTensorView& in, const QTensorView& out, int64_t kernel, int64_t stride, int64_t pad,
                   int64_t pixel_begin, int64_t pixel_end) = nullptr;
  // out[i] = table[in[i]] for i < n (a layer's activation quantiser as a map of codes).
  void (*map_bytes)(const uint8_t* in, int64_t n, const uint8_t* table, uint8_t* out) = nullptr;
  // float NCHW images [out.n, out.c, out.h, out.w] -> the interior of `out` (padding channels = zp):
  // q = nearest(clamp(x * inv_scale + zp, 0, 255)); out.data is written through.
  void (*quantize_input)(const float* x, const QTensorView& out, float inv_scale) = nullptr;
};

// The table of the active CPU target.
const DeployKernels& deploy_kernels();

// Filled once per target by each kernel file.
void fill_conv_kernels(DeployKernels& k);
void fill_misc_kernels(DeployKernels& k);
void fill_winograd_kernels(DeployKernels& k);

}  // namespace sl::deploy
