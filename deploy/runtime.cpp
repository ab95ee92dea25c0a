// Runs a deploy graph: per op, the active target's kernel over ranges of output pixels (oneTBB), the
// activations in uint8 buffers owned by the model (NHWC, channels padded to groups of 4). Weights are
// packed per target on first use and kept, so switching targets (tests, SHIFTLAB_CPU_TARGET) costs
// one packing.
#include "deploy/runtime.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

#include "backends/cpu/simd/target.h"
#include "engine/error.h"
#include "engine/threads.h"

namespace sl::deploy {

namespace {
std::atomic<WinogradMode> winograd_mode{WinogradMode::on};
}  // namespace

WinogradMode set_deploy_winograd(WinogradMode mode) { return winograd_mode.exchange(mode); }
WinogradMode deploy_winograd() { return winograd_mode.load(); }

struct InferenceModel::PreparedConv {
  // Per output channel, zero-padded to whole panels (the kernels load whole vectors).
  std::vector<int32_t> correction;  // the input zero point * sum of the channel's weights
  std::vector<float> multiplier;    // out_scale * input scale
  std::vector<float> bias;
  std::vector<std::unique_ptr<PackedWeights>> packed;  // per target index
  std::vector<std::unique_ptr<WinogradWeights>> winograd;  // per target index, for Winograd's convs
  std::vector<uint8_t> mapped;      // the input through input_map, when the conv has one (same frame)
  std::vector<uint8_t> shortcut;    // an option-A residual, subsampled and channel-padded (see below)
  QTensorView residual;
};

InferenceModel InferenceModel::load(const std::string& path) { return InferenceModel(load_model(path)); }

InferenceModel::InferenceModel(Graph graph) : graph_(std::move(graph)) {
  validate(graph_);
  for (const ConvSpec& c : graph_.convs) {
    auto p = std::make_unique<PreparedConv>();
    const TensorSpec& tensor = graph_.tensors[static_cast<size_t>(c.input)];
    const float in_scale = c.input_map.empty() ? tensor.scale : c.input_scale;
    const int32_t in_zero_point = c.input_map.empty() ? tensor.zero_point : c.input_zero_point;
    const int64_t k = c.kh * c.kw * c.cin;
    const TensorSpec& out = graph_.tensors[static_cast<size_t>(c.output)];
    const float inv = out.f32 ? 1.0f : 1.0f / out.scale;
    const int32_t zero_point = out.f32 ? 0 : out.zero_point;
    // Wide enough for the widest panel of any target (4 vectors of 16 lanes).
    const auto padded = static_cast<size_t>((c.cout + 63) / 64 * 64);
    p->correction.assign(padded, 0);
    p->multiplier.assign(padded, 0.0f);
    p->bias.assign(padded, 0.0f);
    for (int64_t oc = 0; oc < c.cout; ++oc) {
      int64_t sum = 0;
      for (int64_t q = 0; q < k; ++q) sum += c.weights[static_cast<size_t>(oc * k + q)];
      p->correction[static_cast<size_t>(oc)] = static_cast<int32_t>(sum * in_zero_point);
      p->multiplier[static_cast<size_t>(oc)] = epilogue_multiplier(c.out_scale[static_cast<size_t>(oc)], in_scale, inv);
      p->bias[static_cast<size_t>(oc)] = epilogue_bias(c.bias[static_cast<size_t>(oc)], inv, zero_point);
    }
    p->packed.resize(cpu::cpu_target_bits().size());
    p->winograd.resize(cpu::cpu_target_bits().size());
    prepared_.push_back(std::move(p));
  }
  // Each tensor's frame: the largest padding of the convs that read it.
  borders_.assign(graph_.tensors.size(), 0);
  for (const ConvSpec& c : graph_.convs)
    borders_[static_cast<size_t>(c.input)] = std::max(borders_[static_cast<size_t>(c.input)], c.pad);
  buffers_.resize(graph_.tensors.size());
}

InferenceModel::InferenceModel(InferenceModel&&) noexcept = default;
InferenceModel& InferenceModel::operator=(InferenceModel&&) noexcept = default;
InferenceModel::~InferenceModel() = default;

int64_t InferenceModel::num_outputs() const {
  const TensorSpec& out = graph_.tensors[static_cast<size_t>(graph_.output)];
  return out.h * out.w * out.c;
}

std::vector<uint8_t> InferenceModel::tensor_codes(int id) const {
  const std::vector<uint8_t>& bytes = buffers_[static_cast<size_t>(id)];
  QTensorView v = view(id, 1);
  const int64_t n = bytes.empty() ? 0 : (static_cast<int64_t>(bytes.size()) - kReadSlack) / v.image_bytes();
  std::vector<uint8_t> dense(static_cast<size_t>(n * v.h * v.w * v.c));
  uint8_t* out = dense.data();
  for (int64_t img = 0; img < n; ++img)
    for (int64_t y = 0; y < v.h; ++y)
      for (int64_t x = 0; x < v.w; ++x, out += v.c) std::copy(v.at(img, y, x), v.at(img, y, x) + v.c, out);
  return dense;
}

QTensorView InferenceModel::view(int id, int64_t n) const {
  const TensorSpec& t = graph_.tensors[static_cast<size_t>(id)];
  QTensorView v;
  v.data = buffers_[static_cast<size_t>(id)].data();
  v.n = n;
  v.h = t.h;
  v.w = t.w;
  v.c = t.c;
  v.cs = channel_stride(t.c);
  v.border = borders_[static_cast<size_t>(id)];
  v.scale = t.scale;
  v.zero_point = t.zero_point;
  return v;
}

uint8_t* InferenceModel::output_buffer(int id, int64_t n) {
  const TensorSpec& t = graph_.tensors[static_cast<size_t>(id)];
  auto& bytes = buffers_[static_cast<size_t>(id)];
  const auto size = static_cast<size_t>(tensor_bytes(n, t.h, t.w, t.c, borders_[static_cast<size_t>(id)]) + kReadSlack);
  // The frame is written once, here: kernels write interiors only.
  if (bytes.size() != size) bytes.assign(size, static_cast<uint8_t>(t.zero_point));
  return bytes.data();
}

namespace {

// Work units (output pixels, or Winograd tiles) per parallel task: whole GEMM tiles, at least two
// tasks per thread when there is work for them, none when the op is too small to pay for a task.
int64_t rows_per_task(int64_t rows, int64_t tile_rows, int64_t macs_per_row) {
  const int threads = num_threads();
  constexpr int64_t kMinMacsPerTask = 1 << 18;
  int64_t per = std::max<int64_t>(tile_rows, kMinMacsPerTask / std::max<int64_t>(1, macs_per_row));
  per = std::max(per, (rows + 2 * threads - 1) / (2 * threads));
  return (per + tile_rows - 1) / tile_rows * tile_rows;
}

// The codes of `in`'s interior through `map` into `out` (same layout; the frame is `zero_point`,
// the mapped grid's zero).
void map_codes(const QTensorView& in, const std::vector<uint8_t>& map, int32_t zero_point, std::vector<uint8_t>& out) {
  const auto size = static_cast<size_t>(in.n * in.image_bytes() + kReadSlack);
  if (out.size() != size) out.assign(size, static_cast<uint8_t>(zero_point));  // the frame, once
  const DeployKernels& kern = deploy_kernels();
  const int64_t rows = in.n * in.h, row_bytes = in.w * in.cs;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, std::max<int64_t>(1, (1 << 16) / row_bytes)),
                    [&](const tbb::blocked_range<int64_t>& r) {
                      for (int64_t row = r.begin(); row < r.end(); ++row) {
                        const int64_t at = in.offset(row / in.h, row % in.h, 0);
                        kern.map_bytes(in.data + at, row_bytes, map.data(), out.data() + at);
                      }
                    });
}

// ResNet's option-A shortcut (x subsampled by the stride, channels moved up by `offset`, zero
// channels on both sides) laid out as the conv's output is: the epilogue then adds it a whole vector
// at a time, as an identity.
QTensorView option_a_shortcut(const QTensorView& in, int64_t stride, int64_t offset, int64_t h, int64_t w, int64_t c,
                              std::vector<uint8_t>& out) {
  QTensorView v = in;
  v.h = h;
  v.w = w;
  v.c = c;
  v.cs = channel_stride(c);
  v.border = 0;
  const auto size = static_cast<size_t>(in.n * v.image_bytes() + kReadSlack);
  if (out.size() != size) out.assign(size, static_cast<uint8_t>(in.zero_point));  // the padding channels, once
  const int64_t lo = std::max<int64_t>(0, -offset), hi = std::min(in.c, c - offset);  // channels that land
  for (int64_t img = 0; img < in.n; ++img)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const uint8_t* src = in.at(img, y * stride, x * stride);
        if (hi > lo) std::copy(src + lo, src + hi, out.data() + v.offset(img, y, x) + offset + lo);
      }
  v.data = out.data();
  return v;
}

}  // namespace

void InferenceModel::run_conv(const ConvSpec& spec, PreparedConv& prep, int64_t n, float* logits) {
  const DeployKernels& kern = deploy_kernels();
  const TensorSpec& out = graph_.tensors[static_cast<size_t>(spec.output)];
  const size_t target = cpu::cpu_target_index();
  const WinogradMode mode = deploy_winograd();
  const bool winograd = kern.conv_winograd != nullptr && mode != WinogradMode::off &&
                        winograd_shape(spec.kh, spec.kw, spec.stride, spec.cin, !spec.shift.empty()) &&
                        (mode == WinogradMode::all || winograd_pays(spec.cin, spec.cout));
  ConvJob job;
  if (winograd) {
    auto& slot = prep.winograd[target];
    if (!slot) {
      slot = std::make_unique<WinogradWeights>();
      kern.pack_winograd(spec.weights.data(), spec.cout, spec.cin, *slot);
    }
    job.winograd = slot.get();
  } else {
    auto& slot = prep.packed[target];
    if (!slot) {
      slot = std::make_unique<PackedWeights>();
      kern.pack_weights(spec.weights.data(), spec.cout, spec.kh, spec.kw, spec.cin, *slot);
    }
    job.weights = slot.get();
  }
  job.input = view(spec.input, n);
  if (!spec.input_map.empty()) {  // the layer's activation quantiser: one table lookup per code
    map_codes(job.input, spec.input_map, spec.input_zero_point, prep.mapped);
    job.input.data = prep.mapped.data();
    job.input.scale = spec.input_scale;
    job.input.zero_point = spec.input_zero_point;
  }
  SL_CHECK(job.input.border >= spec.pad, "deploy conv {}: input frame {} narrower than its padding {}", spec.name,
           job.input.border, spec.pad);
  job.kh = spec.kh;
  job.kw = spec.kw;
  job.stride = spec.stride;
  job.pad = spec.pad;
  job.ho = out.h;
  job.wo = out.w;
  job.cout = spec.cout;
  job.shift = spec.shift.empty() ? nullptr : spec.shift.data();
  job.correction = prep.correction.data();
  job.multiplier = prep.multiplier.data();
  job.bias = prep.bias.data();
  job.relu = spec.relu;
  if (spec.residual >= 0) {
    prep.residual = view(spec.residual, n);
    job.residual_scale = epilogue_residual_scale(prep.residual.scale, out.f32 ? 1.0f : 1.0f / out.scale);
    const QTensorView& r = prep.residual;
    if (spec.residual_stride != 1 || spec.residual_channel_offset != 0 || r.c != spec.cout || r.h != out.h || r.w != out.w)
      prep.residual = option_a_shortcut(prep.residual, spec.residual_stride, spec.residual_channel_offset, out.h, out.w,
                                        spec.cout, prep.shortcut);
    job.residual = &prep.residual;
    job.relu_after_add = spec.relu_after_add;
  }
  const int64_t rows = n * out.h * out.w;
  if (out.f32) {
    job.out_f32 = logits;
  } else {
    job.out_u8 = output_buffer(spec.output, n);
    job.out_border = borders_[static_cast<size_t>(spec.output)];
    job.out_zero_point = out.zero_point;
  }
  // Winograd's unit of work is a tile of 2x2 output pixels, the direct GEMM's an output pixel.
  const int64_t units = winograd ? winograd_tiles(n, out.h, out.w) : rows;
  const int64_t macs = spec.kh * spec.kw * spec.cin * spec.cout * (winograd ? 4 : 1);
  const int64_t per = rows_per_task(units, winograd ? 8 : kern.tile_rows, macs);
  auto run = [&](int64_t begin, int64_t end) {
    if (winograd) kern.conv_winograd(job, begin, end);
    else kern.conv_rows(job, begin, end);
  };
  if (per >= units) {
    run(0, units);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, (units + per - 1) / per, 1), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t t = r.begin(); t < r.end(); ++t) run(t * per, std::min(units, (t + 1) * per));
  });
}

void InferenceModel::run_pool(const PoolSpec& spec, int64_t n) {
  output_buffer(spec.output, n);
  const QTensorView in = view(spec.input, n), out = view(spec.output, n);
  if (spec.kind == PoolKind::max) {
    const int64_t pixels = n * out.h * out.w;
    const int64_t per = std::max<int64_t>(256, (pixels + 2 * num_threads() - 1) / (2 * num_threads()));
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, (pixels + per - 1) / per, 1), [&](const tbb::blocked_range<int64_t>& r) {
      for (int64_t t = r.begin(); t < r.end(); ++t)
        deploy_kernels().max_pool(in, out, spec.kernel, spec.stride, spec.pad, t * per, std::min(pixels, (t + 1) * per));
    });
    return;
  }
  // Global average: the mean of the codes as a real value, requantised to the pooled tensor's own
  // (finer) grid: the means vary far less than the pixels they average.
  const int64_t hw = in.h * in.w;
  const float inv_out = 1.0f / out.scale;
  std::vector<int64_t> sums(static_cast<size_t>(in.cs));
  for (int64_t img = 0; img < n; ++img) {
    std::fill(sums.begin(), sums.end(), 0);
    for (int64_t y = 0; y < in.h; ++y)
      for (int64_t x = 0; x < in.w; ++x) {
        const uint8_t* p = in.at(img, y, x);
        for (int64_t ch = 0; ch < in.cs; ++ch) sums[static_cast<size_t>(ch)] += p[ch];
      }
    auto* dst = const_cast<uint8_t*>(out.at(img, 0, 0));
    for (int64_t ch = 0; ch < in.cs; ++ch) {
      const float mean = static_cast<float>(sums[static_cast<size_t>(ch)]) / static_cast<float>(hw);
      dst[ch] = requantize((mean - static_cast<float>(in.zero_point)) * in.scale, inv_out, out.zero_point);
    }
  }
}

void InferenceModel::run(const float* images, int64_t n, float* logits) {
  SL_CHECK(n >= 0, "InferenceModel::run: batch size {} is negative", n);
  if (n == 0) return;
  output_buffer(0, n);
  using clock = std::chrono::steady_clock;
  auto tick = clock::now();
  auto lap = [&](size_t slot) {
    if (!profiling_ || op_seconds_.size() <= slot) return;
    const auto now = clock::now();
    op_seconds_[slot] += std::chrono::duration<double>(now - tick).count();
    tick = now;
  };
  deploy_kernels().quantize_input(images, view(0, n), 1.0f / graph_.tensors[0].scale);
  lap(graph_.ops.size());
  for (size_t i = 0; i < graph_.ops.size(); ++i) {
    const Op& op = graph_.ops[i];
    if (op.kind == Op::Kind::pool) run_pool(graph_.pools[op.index], n);
    else run_conv(graph_.convs[op.index], *prepared_[op.index], n, logits);
    lap(i);
  }
}

void InferenceModel::set_profiling(bool on) {
  if (on) op_seconds_.assign(graph_.ops.size() + 1, 0.0);  // a fresh profile; off keeps it for reading
  profiling_ = on;
}

std::vector<std::pair<std::string, double>> InferenceModel::profile() const {
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < graph_.ops.size() && i < op_seconds_.size(); ++i) {
    const Op& op = graph_.ops[i];
    std::string name;
    if (op.kind == Op::Kind::pool) {
      const PoolSpec& p = graph_.pools[op.index];
      name = p.kind == PoolKind::max ? fmt::format("max pool {}x{}{}", p.kernel, p.kernel,
                                                   p.stride != p.kernel ? fmt::format(" stride {}", p.stride) : "")
                                     : "global average pool";
    } else {
      const ConvSpec& c = graph_.convs[op.index];
      name = fmt::format("{} (conv {}x{}{}, {}->{})", c.name, c.kh, c.kw, c.stride > 1 ? " stride 2" : "", c.cin, c.cout);
    }
    out.emplace_back(name, op_seconds_[i]);
  }
  if (!op_seconds_.empty()) out.emplace_back("input quantisation", op_seconds_.back());
  return out;
}

std::vector<float> InferenceModel::run(const float* images, int64_t n) {
  std::vector<float> logits(static_cast<size_t>(std::max<int64_t>(0, n) * num_outputs()));
  run(images, n, logits.data());
  return logits;
}

}  // namespace sl::deploy
