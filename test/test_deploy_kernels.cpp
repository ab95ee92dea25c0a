// The deploy runtime's integer kernels against the scalar reference (deploy/reference.h): bit-exact
// on every CPU target of this machine, 1 and 2 threads, over tile and channel tails, batch 1, every
// kernel shape the exporter emits (3x3 / 5x5 / 1x1 convs, strides, padding, linear-as-conv, the
// shift folded into a 1x1 conv, residual adds with and without option-A subsampling), pooling and
// the float output.
#include <random>

#include "backends/cpu/simd/target.h"
#include "deploy/reference.h"
#include "deploy/runtime.h"
#include "engine/threads.h"
#include "helpers.h"

using namespace sl;
using namespace sl::deploy;

namespace {

// Sets the deploy runtime's Winograd mode for a scope.
struct DeployWinograd {
  explicit DeployWinograd(WinogradMode mode) : previous(set_deploy_winograd(mode)) {}
  ~DeployWinograd() { set_deploy_winograd(previous); }
  WinogradMode previous;
};

struct ConvCase {
  int64_t cin, h, w, cout, k, stride, pad;
  bool relu = true;
  int residual = 0;  // 0: none, 1: identity-shaped, 2: option A (stride 2, channel offset)
  bool shift = false;
  bool f32_out = false;
  // > 0: a second conv ((2 * next_pad + 1)^2, same size) with this padding reads the output (which then has a frame of zero points
  // the first conv must leave alone), through its own input map, and adds it back as a residual.
  int64_t next_pad = 0;
  bool next_map = false;  // the second conv reads its input through a map (the frame is the map's own)
  // The conv under test's weights in [-max_w, max_w]: few levels let the pmaddubsw targets add int16
  // sums over several groups (PackedWeights::int16_depth); at 64, none; beyond 64, two passes.
  int max_w = kMaxNarrowWeight;
  // Weights only -max_w and +max_w, inputs only codes 0 and 255: the int16 run sums at their bounds.
  bool extremes = false;
  // Weights all +max_w, inputs all code 255: the largest sum a conv can have.
  bool all_max = false;
};

TensorSpec tensor(int64_t h, int64_t w, int64_t c, std::mt19937& rng, bool f32 = false) {
  TensorSpec t;
  t.h = h;
  t.w = w;
  t.c = c;
  t.f32 = f32;
  t.scale = std::uniform_real_distribution<float>(0.01f, 0.1f)(rng);
  t.zero_point = std::uniform_int_distribution<int>(0, 255)(rng);
  return t;
}

std::vector<int8_t> random_weights(size_t n, int lo, int hi, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int8_t> w(n);
  for (int8_t& v : w) v = static_cast<int8_t>(d(rng));
  return w;
}

std::vector<int8_t> extreme_weights(size_t n, int max_w, std::mt19937& rng) {
  std::vector<int8_t> w(n);
  for (int8_t& v : w) v = static_cast<int8_t>(rng() % 2 ? max_w : -max_w);
  return w;
}

// input -> [residual source conv] -> conv under test (-> max pool -> global average pool)
// A max pool's kernel, stride and padding.
struct PoolGeometry {
  int64_t kernel = 2, stride = 2, pad = 0;
};

Graph conv_graph(const ConvCase& c, std::mt19937& rng, const PoolGeometry* pools) {
  Graph g;
  g.in_c = c.cin;
  g.in_h = c.h;
  g.in_w = c.w;
  g.tensors.push_back(tensor(c.h, c.w, c.cin, rng));
  const int64_t ho = (c.h + 2 * c.pad - c.k) / c.stride + 1, wo = (c.w + 2 * c.pad - c.k) / c.stride + 1;
  ConvSpec conv;
  conv.name = "conv";
  conv.input = 0;
  conv.kh = conv.kw = c.k;
  conv.stride = c.stride;
  conv.pad = c.pad;
  conv.cin = c.cin;
  conv.cout = c.cout;
  // The full weight range: the sums (pmaddubsw's pairs at their largest) and the epilogue must agree.
  const auto n_weights = static_cast<size_t>(c.cout * c.k * c.k * c.cin);
  conv.weights = c.all_max    ? std::vector<int8_t>(n_weights, static_cast<int8_t>(c.max_w))
                 : c.extremes ? extreme_weights(n_weights, c.max_w, rng)
                              : random_weights(n_weights, -c.max_w, c.max_w, rng);
  for (int64_t i = 0; i < c.cout; ++i) {
    conv.out_scale.push_back(std::uniform_real_distribution<float>(-0.02f, 0.02f)(rng));
    conv.bias.push_back(std::uniform_real_distribution<float>(-1, 1)(rng));
  }
  conv.relu = c.relu;
  if (c.shift)
    for (int64_t i = 0; i < c.cin; ++i) {
      conv.shift.push_back(static_cast<int8_t>(static_cast<int>(i % 3) - 1));
      conv.shift.push_back(static_cast<int8_t>(static_cast<int>((i / 3) % 3) - 1));
    }
  if (c.residual == 1) {
    conv.residual = 0;  // the input itself (same shape when stride 1 and cin == cout)
  } else if (c.residual == 2) {
    conv.residual = 0;
    conv.residual_stride = 2;
    conv.residual_channel_offset = (c.cout - c.cin) / 2;
  }
  conv.relu_after_add = c.residual != 0;
  conv.output = 1;
  g.tensors.push_back(tensor(ho, wo, c.cout, rng, c.f32_out && !pools));
  g.ops.push_back({Op::Kind::conv, 0});
  g.convs.push_back(conv);
  int last = 1;
  if (c.next_pad > 0) {
    ConvSpec next;
    next.name = "next";
    next.input = 1;
    next.kh = next.kw = 2 * c.next_pad + 1;
    next.pad = c.next_pad;
    next.cin = next.cout = c.cout;
    next.weights = random_weights(static_cast<size_t>(c.cout * next.kh * next.kw * c.cout), -kMaxNarrowWeight, kMaxNarrowWeight, rng);
    for (int64_t i = 0; i < c.cout; ++i) {
      next.out_scale.push_back(std::uniform_real_distribution<float>(-0.02f, 0.02f)(rng));
      next.bias.push_back(std::uniform_real_distribution<float>(-1, 1)(rng));
    }
    if (c.next_map) {
      for (int i = 0; i < 256; ++i) next.input_map.push_back(static_cast<uint8_t>(rng() % 256));
      next.input_scale = 0.03f;
      next.input_zero_point = static_cast<int32_t>(rng() % 256);
    }
    next.relu = true;
    next.residual = 1;
    next.relu_after_add = true;
    next.output = 2;
    g.tensors.push_back(tensor(ho, wo, c.cout, rng));
    g.ops.push_back({Op::Kind::conv, 1});
    g.convs.push_back(next);
    last = 2;
  }
  if (pools) {
    TensorSpec p = g.tensors[static_cast<size_t>(last)];
    const int pooled = static_cast<int>(g.tensors.size());
    p.h = (ho + 2 * pools->pad - pools->kernel) / pools->stride + 1;
    p.w = (wo + 2 * pools->pad - pools->kernel) / pools->stride + 1;
    g.tensors.push_back(p);
    g.pools.push_back({PoolKind::max, last, pooled, pools->kernel, pools->stride, pools->pad});
    g.ops.push_back({Op::Kind::pool, 0});
    TensorSpec a = p;  // the mean on its own, finer grid
    a.h = a.w = 1;
    a.scale = p.scale / 4;
    a.zero_point = 10;
    g.tensors.push_back(a);
    g.pools.push_back({PoolKind::global_avg, pooled, pooled + 1, 0, 0, 0});
    g.ops.push_back({Op::Kind::pool, 1});
    // A float 1x1 conv closes the graph (the output must be float).
    ConvSpec fc;
    fc.name = "fc";
    fc.input = pooled + 1;
    fc.cin = c.cout;
    fc.cout = 3;
    fc.weights = random_weights(static_cast<size_t>(3 * c.cout), -64, 64, rng);
    fc.out_scale = {0.01f, -0.02f, 0.03f};
    fc.bias = {0.1f, 0.2f, -0.3f};
    fc.output = pooled + 2;
    TensorSpec out = a;
    out.c = 3;
    out.f32 = true;
    g.tensors.push_back(out);
    g.ops.push_back({Op::Kind::conv, g.convs.size()});
    g.convs.push_back(fc);
    last = pooled + 2;
  } else if (!c.f32_out) {
    ConvSpec fc;  // a float head over the whole output: a linear layer as a conv
    fc.name = "head";
    fc.input = last;
    fc.kh = ho;
    fc.kw = wo;
    fc.cin = c.cout;
    fc.cout = 5;
    fc.weights = random_weights(static_cast<size_t>(5 * ho * wo * c.cout), -kMaxWeight, kMaxWeight, rng);  // 8-bit
    fc.out_scale = {1e-3f, 2e-3f, -1e-3f, 5e-4f, 1e-4f};
    fc.bias = {0, 0.5f, 0, -0.5f, 1};
    fc.output = last + 1;
    TensorSpec out;
    out.h = out.w = 1;
    out.c = 5;
    out.f32 = true;
    g.tensors.push_back(out);
    g.ops.push_back({Op::Kind::conv, g.convs.size()});
    g.convs.push_back(fc);
    last = last + 1;
  }
  g.output = last;
  return g;
}

// extremes: far beyond the input's range either way (codes 0 and 255 only).
// all_max: every input code 255.
std::vector<float> random_images(const Graph& g, int64_t n, std::mt19937& rng, bool extremes, bool all_max = false) {
  std::normal_distribution<float> d(0, 2);
  std::vector<float> x(static_cast<size_t>(n * g.in_c * g.in_h * g.in_w));
  for (float& v : x) v = all_max ? 1e4f : extremes ? (rng() % 2 ? 1e4f : -1e4f) : d(rng);
  return x;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_case(const ConvCase& c, const PoolGeometry* pools, uint64_t seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  const Graph g = conv_graph(c, rng, pools);
  for (int64_t n : {1, 3}) {
    const std::vector<float> x = random_images(g, n, rng, c.extremes, c.all_max);
    std::vector<std::vector<uint8_t>> want_tensors;
    const std::vector<float> want = reference_run(g, x.data(), n, &want_tensors);
    InferenceModel model(g);
    for (const std::string& target : cpu::available_cpu_targets()) {
      cpu::ScopedCpuTarget scoped(target);
      // Winograd (every 3x3 stride-1 conv it can take on the pmaddwd targets, not only the wide ones
      // where it pays) and the direct GEMM alike.
      for (const auto& [winograd, threads] :
           {std::pair{WinogradMode::all, 1}, std::pair{WinogradMode::all, 2}, std::pair{WinogradMode::off, 1}}) {
        const DeployWinograd scoped_winograd(winograd);
        ThreadLimit limit(threads);
        INFO("cin " << c.cin << " " << c.h << "x" << c.w << " cout " << c.cout << " k " << c.k << " stride " << c.stride
                    << " pad " << c.pad << " residual " << c.residual << " shift " << c.shift << " next_pad "
                    << c.next_pad << " next_map " << c.next_map << " max_w " << c.max_w << " extremes " << c.extremes << " pool " << (pools ? pools->kernel : 0) << "/" << (pools ? pools->stride : 0)
                    << " batch " << n << " target " << target << " threads " << threads << " winograd " << static_cast<int>(winograd));
        const std::vector<float> got = model.run(x.data(), n);
        for (size_t t = 0; t + 1 < g.tensors.size(); ++t)
          if (!g.tensors[t].f32) CHECK(model.tensor_codes(static_cast<int>(t)) == want_tensors[t]);
        CHECK(same_bits(got, want));
      }
    }
  }
}

}  // namespace

TEST_CASE("deploy convolutions match the scalar reference bit for bit on every target", "[deploy][kernels]") {
  uint64_t seed = 1;
  for (const ConvCase& c : {ConvCase{1, 28, 28, 20, 5, 1, 0},      // mnist-conv conv1 (k = 25: group tail)
                            ConvCase{20, 12, 12, 50, 5, 1, 0},     // conv2 (cout 50: vector tail)
                            ConvCase{3, 9, 7, 16, 3, 1, 1},        // resnet stem (3 channels, read in place), odd sizes
                            ConvCase{16, 8, 8, 32, 3, 2, 1},       // stride 2
                            ConvCase{16, 9, 9, 16, 3, 1, 1, true, 1},   // basic block with identity shortcut
                            ConvCase{16, 8, 8, 32, 3, 2, 1, true, 2},   // option-A shortcut
                            ConvCase{16, 8, 8, 16, 1, 1, 0, true, 1, true},  // shift folded, residual
                            ConvCase{27, 6, 6, 70, 1, 2, 0, false, 0, true}, // shift + stride 2, cout 70
                            ConvCase{50, 4, 4, 500, 4, 1, 0},      // fc1 as a conv over the whole input
                            ConvCase{13, 5, 5, 10, 1, 1, 0, false, 0, false, true},  // float output
                            // Outputs with a frame (a padded conv reads them) and cout tails; with a
                            // residual, the lanes past cout are not the zero point and must not land
                            // in the frame:
                            ConvCase{8, 7, 9, 8, 3, 1, 1, true, 1, false, false, 1},    // cs 8 < a vector
                            ConvCase{20, 6, 5, 20, 3, 1, 1, true, 1, false, false, 2},  // frame 2, cout 20
                            ConvCase{20, 6, 5, 20, 1, 1, 0, true, 1, false, false, 1},  // residual has none
                            ConvCase{16, 5, 6, 6, 3, 1, 1, true, 0, false, false, 1},   // next reads 6 ch
                            ConvCase{2, 6, 7, 5, 3, 1, 1},                              // 2 dense channels
                            ConvCase{3, 5, 5, 8, 1, 1, 0, true, 0, true},               // shift over 3
                            // Few-level weights (int16 sums over 4 or 2 groups on pmaddubsw
                            // targets), the group count padded to the depth:
                            ConvCase{16, 9, 9, 16, 3, 1, 1, true, 1, false, false, 0, false, 8},
                            ConvCase{20, 12, 12, 50, 5, 1, 0, true, 0, false, false, 0, false, 16},
                            ConvCase{32, 6, 6, 64, 3, 2, 1, true, 2, false, false, 0, false, 32},
                            ConvCase{3, 9, 7, 16, 3, 1, 1, true, 0, false, false, 0, false, 8},
                            ConvCase{500, 1, 1, 10, 1, 1, 0, false, 0, false, true, 0, false, 4},
                            ConvCase{16, 6, 7, 16, 3, 1, 1, true, 1, false, false, 1, true},  // mapped input
                            // Sums at their bounds (float out: exact sums): pairs of +-64 (pmaddubsw's
                            // largest), 4 groups of +-16 a lane (int16 sums of 8 products of 255 x 16).
                            ConvCase{16, 6, 6, 32, 3, 1, 1, false, 0, false, true, 0, false, 64, true},
                            ConvCase{16, 6, 6, 32, 3, 1, 1, false, 0, false, true, 0, false, 16, true},
                            // 8-bit weights (two passes on the pmaddubsw targets), at their bounds too:
                            ConvCase{16, 9, 9, 16, 3, 1, 1, true, 1, false, false, 0, false, 127},
                            ConvCase{20, 6, 5, 70, 3, 1, 1, true, 0, false, false, 1, false, 127},  // 2 panels
                            ConvCase{3, 9, 7, 16, 3, 1, 1, true, 0, false, false, 0, false, 127},
                            ConvCase{16, 6, 6, 32, 3, 1, 1, false, 0, false, true, 0, false, 127, true},
                            ConvCase{3, 9, 7, 16, 3, 1, 1, true, 0, false, false, 1},  // stem with a frame
                            // Winograd's tiles: padding 2 and 0 (odd output, patches past the frame),
                            // 4 channels (one part vector), and its largest sums: cin at
                            // kWinogradMaxChannels, every product 255 * 127 (4 * 9 * 255 * 127 * cin
                            // just fits an int32; the transforms' partial sums wrap).
                            ConvCase{16, 6, 7, 16, 3, 1, 2},
                            ConvCase{16, 7, 8, 24, 3, 1, 0},
                            ConvCase{4, 5, 9, 12, 3, 1, 1, true, 0, false, false, 1},
                            ConvCase{kWinogradMaxChannels, 3, 5, 9, 3, 1, 1, false, 0, false, true, 0, false, 127,
                                     false, true}}) {
    check_case(c, nullptr, seed++);
  }
}

TEST_CASE("deploy pooling and a float head match the reference on every target", "[deploy][kernels]") {
  uint64_t seed = 100;
  for (const ConvCase& c : {ConvCase{1, 28, 28, 20, 5, 1, 0}, ConvCase{8, 10, 10, 48, 3, 1, 1},
                            ConvCase{4, 7, 9, 65, 3, 1, 1},  // odd map: pooling drops the last row/col
                            ConvCase{4, 8, 8, 12, 3, 1, 1, true, 0, false, false, 1}})  // pooling a framed tensor
    for (const PoolGeometry& p : {PoolGeometry{2, 2, 0}, PoolGeometry{3, 2, 1},  // ImageNet ResNet's stem pool
                                  PoolGeometry{3, 1, 1}, PoolGeometry{2, 1, 1}})
      check_case(c, &p, seed++);
}

TEST_CASE("pmaddubsw targets add int16 sums over as many groups as the weights allow", "[deploy][kernels]") {
  // 3x3 over 16 channels: 36 groups; one output channel, all weights w.
  auto depth = [](int w) {
    const std::vector<int8_t> weights(9 * 16, static_cast<int8_t>(w));
    PackedWeights pw;
    deploy_kernels().pack_weights(weights.data(), 1, 3, 3, 16, pw);
    CHECK(pw.groups % pw.int16_depth == 0);
    CHECK(pw.groups >= 36);
    return pw.int16_depth;
  };
  for (const std::string& target : cpu::available_cpu_targets()) {
    cpu::ScopedCpuTarget scoped(target);
    INFO("target " << target);
    const bool pmaddubsw = target == "avx512" || target == "avx2" || target == "sse4";
    // Per int16 lane 2 weights a group: depth d sums 2 d |w|, which must stay <= 128.
    CHECK(depth(64) == 1);
    CHECK(depth(-32) == (pmaddubsw ? 2 : 1));
    CHECK(depth(16) == (pmaddubsw ? 4 : 1));
    CHECK(depth(1) == (pmaddubsw ? 4 : 1));
  }
}

TEST_CASE("deploy kernels report their target", "[deploy][kernels]") {
  for (const std::string& target : cpu::available_cpu_targets()) {
    cpu::ScopedCpuTarget scoped(target);
    const DeployKernels& k = deploy_kernels();
    CHECK(std::string(k.target) == target);
    CHECK(k.lanes >= 1);
    CHECK(k.tile_rows >= 1);
    // Winograd where pmaddwd multiplies int16 pairs and vpdpbusd does not do better.
    const bool pmaddwd = target == "avx512" || target == "avx2" || target == "sse4";
    CHECK((k.conv_winograd != nullptr) == pmaddwd);
    CHECK((k.pack_winograd != nullptr) == pmaddwd);
  }
}
