// Deliberately plain: direct convolution loops over the NHWC layout, no packing, no tiling.
#include "deploy/reference.h"

#include "deploy/kernels/kernels.h"

#include <algorithm>
#include <cmath>

namespace sl::deploy {

namespace {

uint8_t requantize(float y, const TensorSpec& out) { return deploy::requantize(y, 1.0f / out.scale, out.zero_point); }

void conv(const Graph& g, const ConvSpec& c, int64_t n, std::vector<std::vector<uint8_t>>& buf, float* logits) {
  // The conv's view of its input: the tensor, or its codes mapped onto the conv's own grid.
  TensorSpec in = g.tensors[static_cast<size_t>(c.input)];
  std::vector<uint8_t> x = buf[static_cast<size_t>(c.input)];
  if (!c.input_map.empty()) {
    for (uint8_t& q : x) q = c.input_map[q];
    in.scale = c.input_scale;
    in.zero_point = c.input_zero_point;
  }
  const TensorSpec& out = g.tensors[static_cast<size_t>(c.output)];
  std::vector<uint8_t>& y = buf[static_cast<size_t>(c.output)];
  if (!out.f32) y.assign(static_cast<size_t>(n * out.h * out.w * out.c), 0);
  for (int64_t img = 0; img < n; ++img)
    for (int64_t oy = 0; oy < out.h; ++oy)
      for (int64_t ox = 0; ox < out.w; ++ox)
        for (int64_t oc = 0; oc < c.cout; ++oc) {
          int32_t acc = 0;
          for (int64_t ky = 0; ky < c.kh; ++ky)
            for (int64_t kx = 0; kx < c.kw; ++kx)
              for (int64_t ci = 0; ci < c.cin; ++ci) {
                int64_t iy = oy * c.stride - c.pad + ky, ix = ox * c.stride - c.pad + kx;
                if (!c.shift.empty()) {
                  iy += c.shift[static_cast<size_t>(2 * ci)];
                  ix += c.shift[static_cast<size_t>(2 * ci + 1)];
                }
                const bool inside = iy >= 0 && iy < in.h && ix >= 0 && ix < in.w;
                const int32_t q = inside ? x[static_cast<size_t>(((img * in.h + iy) * in.w + ix) * in.c + ci)] : in.zero_point;
                acc += (q - in.zero_point) * c.weights[static_cast<size_t>(((oc * c.kh + ky) * c.kw + kx) * c.cin + ci)];
              }
          // In the output's code domain (kernels.h): the real one for a float output.
          const float inv = out.f32 ? 1.0f : 1.0f / out.scale;
          const int32_t zp = out.f32 ? 0 : out.zero_point;
          float v = static_cast<float>(acc) * epilogue_multiplier(c.out_scale[static_cast<size_t>(oc)], in.scale, inv) +
                    epilogue_bias(c.bias[static_cast<size_t>(oc)], inv, zp);
          if (c.relu) v = std::max(v, static_cast<float>(zp));
          if (c.residual >= 0) {
            const TensorSpec& r = g.tensors[static_cast<size_t>(c.residual)];
            const int64_t rc = oc - c.residual_channel_offset;
            int32_t q = r.zero_point;
            if (rc >= 0 && rc < r.c)
              q = buf[static_cast<size_t>(c.residual)][static_cast<size_t>(
                  ((img * r.h + oy * c.residual_stride) * r.w + ox * c.residual_stride) * r.c + rc)];
            v = v + static_cast<float>(q - r.zero_point) * epilogue_residual_scale(r.scale, inv);
            if (c.relu_after_add) v = std::max(v, static_cast<float>(zp));
          }
          const int64_t at = ((img * out.h + oy) * out.w + ox) * out.c + oc;
          if (out.f32) logits[at] = v;
          else y[static_cast<size_t>(at)] = epilogue_to_code(v);
        }
}

void pool(const Graph& g, const PoolSpec& p, int64_t n, std::vector<std::vector<uint8_t>>& buf) {
  const TensorSpec& in = g.tensors[static_cast<size_t>(p.input)];
  const TensorSpec& out = g.tensors[static_cast<size_t>(p.output)];
  const std::vector<uint8_t>& x = buf[static_cast<size_t>(p.input)];
  std::vector<uint8_t>& y = buf[static_cast<size_t>(p.output)];
  y.assign(static_cast<size_t>(n * out.h * out.w * out.c), 0);
  auto at = [&](int64_t img, int64_t iy, int64_t ix, int64_t ch) {
    return x[static_cast<size_t>(((img * in.h + iy) * in.w + ix) * in.c + ch)];
  };
  for (int64_t img = 0; img < n; ++img)
    for (int64_t ch = 0; ch < in.c; ++ch) {
      if (p.kind == PoolKind::global_avg) {
        int64_t sum = 0;
        for (int64_t iy = 0; iy < in.h; ++iy)
          for (int64_t ix = 0; ix < in.w; ++ix) sum += at(img, iy, ix, ch);
        const int64_t hw = in.h * in.w;
        const float mean = static_cast<float>(sum) / static_cast<float>(hw);
        y[static_cast<size_t>(img * in.c + ch)] = requantize((mean - static_cast<float>(in.zero_point)) * in.scale, out);
        continue;
      }
      for (int64_t oy = 0; oy < out.h; ++oy)
        for (int64_t ox = 0; ox < out.w; ++ox) {
          int32_t m = -1;  // below every code: padding never wins
          for (int64_t ky = 0; ky < p.kernel; ++ky)
            for (int64_t kx = 0; kx < p.kernel; ++kx) {
              const int64_t iy = oy * p.stride - p.pad + ky, ix = ox * p.stride - p.pad + kx;
              if (iy >= 0 && iy < in.h && ix >= 0 && ix < in.w) m = std::max<int32_t>(m, at(img, iy, ix, ch));
            }
          y[static_cast<size_t>(((img * out.h + oy) * out.w + ox) * out.c + ch)] = static_cast<uint8_t>(m);
        }
    }
}

}  // namespace

std::vector<float> reference_run(const Graph& g, const float* images, int64_t n,
                                 std::vector<std::vector<uint8_t>>* tensors) {
  validate(g);
  std::vector<std::vector<uint8_t>> buf(g.tensors.size());
  const TensorSpec& in = g.tensors[0];
  buf[0].resize(static_cast<size_t>(n * in.h * in.w * in.c));
  const int64_t hw = in.h * in.w;
  for (int64_t img = 0; img < n; ++img)
    for (int64_t ch = 0; ch < in.c; ++ch)
      for (int64_t i = 0; i < hw; ++i)
        buf[0][static_cast<size_t>((img * hw + i) * in.c + ch)] = requantize(images[(img * in.c + ch) * hw + i], in);
  const TensorSpec& out = g.tensors[static_cast<size_t>(g.output)];
  std::vector<float> logits(static_cast<size_t>(n * out.h * out.w * out.c));
  for (const Op& op : g.ops) {
    if (op.kind == Op::Kind::pool) pool(g, g.pools[op.index], n, buf);
    else conv(g, g.convs[op.index], n, buf, logits.data());
  }
  if (tensors != nullptr) *tensors = std::move(buf);
  return logits;
}

}  // namespace sl::deploy
