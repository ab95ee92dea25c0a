// conv2d, pooling and batch norm against straightforward reference loops (f32, CPU kernels).
#include <cmath>
#include <limits>

#include "backends/cpu/simd/target.h"
#include "engine/threads.h"
#include "helpers.h"
#include "reference_conv.h"

using namespace sl;
using sl::test::randf;
using sl::test::ConvCase;
using sl::test::conv_reference;
using sl::test::ConvRun;
using sl::test::run_conv;

namespace {

void check_close(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    REQUIRE(got[i] == Approx(want[i]).margin(tol));
  }
}

}  // namespace

namespace {

// 1x1 to 7x7 kernels, stride 1 and 2 (even kernels, dilation and padding for the polyphase path),
// batch 1, odd channel counts, widths that leave every tail.
const std::vector<ConvCase> kConvCases = {
    {3, 3, 9, 8, 4, 3, 1, 1, 1, 1},    {2, 4, 9, 9, 6, 3, 2, 1, 1, 2},   {5, 6, 7, 7, 6, 3, 1, 1, 1, 6},
    {2, 3, 8, 8, 5, 1, 1, 0, 1, 1},    {2, 2, 10, 9, 3, 3, 1, 2, 2, 1},  {9, 8, 5, 5, 16, 5, 1, 2, 1, 1},
    {1, 16, 12, 12, 8, 3, 2, 1, 1, 1}, {1, 5, 13, 11, 7, 7, 2, 3, 1, 1}, {1, 3, 17, 19, 9, 7, 1, 3, 1, 1},
    {2, 7, 6, 21, 33, 1, 2, 0, 1, 1},  {3, 5, 11, 10, 17, 5, 2, 2, 1, 1}, {1, 20, 12, 12, 50, 5, 1, 0, 1, 1},
    {2, 9, 15, 15, 70, 3, 1, 1, 1, 1},  {2, 3, 11, 12, 5, 3, 2, 2, 2, 1}, {2, 4, 8, 8, 6, 4, 2, 1, 1, 1},
    {1, 6, 9, 10, 4, 2, 2, 0, 1, 2},
    // Depthwise (one input and one output channel per group): stride 1 and 2, odd sizes, 5x5,
    // dilation, no padding, more images than the weight gradient's 8 parts.
    {10, 5, 9, 7, 5, 3, 2, 1, 1, 5},   {3, 7, 13, 11, 7, 5, 1, 2, 1, 7}, {2, 4, 12, 12, 4, 3, 2, 2, 2, 4},
    {2, 3, 6, 9, 3, 3, 1, 0, 1, 3},    {1, 17, 33, 20, 17, 3, 2, 1, 1, 17}, {2, 4, 10, 10, 4, 3, 3, 1, 1, 4}};

}  // namespace

TEST_CASE("conv2d forward and both backward passes match reference loops on every CPU target", "[reference][conv]") {
  for (const std::string& target : cpu::available_cpu_targets()) {
    cpu::ScopedCpuTarget scoped(target);
    for (const ConvCase& c : kConvCases) {
      INFO("target " << target << " case n " << c.n << " cin " << c.cin << " cout " << c.cout << " k " << c.k
                     << " stride " << c.stride << " groups " << c.groups << " dilation " << c.dil);
      ConvRun got = run_conv(c);
      std::vector<double> ry, rgx, rgw;
      const int64_t ho = sl::test::conv_out_size(c, c.h), wo = sl::test::conv_out_size(c, c.w);
      conv_reference(c, randf({c.n, c.cin, c.h, c.w}, 1).to_vector<float>(),
                     randf({c.cout, c.cin / c.groups, c.k, c.k}, 2).to_vector<float>(),
                     randf({c.n, c.cout, ho, wo}, 3).to_vector<float>(), ho, wo, ry, rgx, rgw);
      check_close(got.y, ry, 1e-4);
      check_close(got.gx, rgx, 1e-4);
      check_close(got.gw, rgw, 1e-3);
    }
  }
}

TEST_CASE("conv2d results are bitwise identical across FMA targets and thread counts", "[reference][conv][determinism]") {
  for (const ConvCase& c : {ConvCase{8, 16, 16, 16, 16, 3, 1, 1, 1, 1}, ConvCase{8, 16, 16, 16, 32, 3, 2, 1, 1, 1},
                            ConvCase{4, 20, 12, 12, 50, 5, 1, 0, 1, 1}, ConvCase{4, 32, 8, 8, 96, 1, 1, 0, 1, 1},
                            ConvCase{12, 24, 16, 16, 24, 3, 1, 1, 1, 24},
                            ConvCase{12, 24, 17, 17, 24, 3, 2, 1, 1, 24}}) {  // depthwise
    ConvRun first;
    std::string first_target;
    for (const std::string& target : cpu::available_cpu_targets()) {
      if (!test::target_has_fma(target)) continue;
      cpu::ScopedCpuTarget scoped(target);
      for (int threads : {1, 2}) {
        ThreadLimit limit(threads);
        ConvRun run = run_conv(c);
        if (first_target.empty()) {
          first = run;
          first_target = target;
        }
        INFO("cout " << c.cout << " k " << c.k << " stride " << c.stride << ": " << target << ", " << threads
                     << " threads, against " << first_target << ", 1 thread");
        CHECK(run.y == first.y);
        CHECK(run.gx == first.gx);
        CHECK(run.gw == first.gw);
      }
    }
  }
}

namespace {

// Channel c of [n, channels, plane] values: [n, 1, plane].
std::vector<float> channel_of(const std::vector<float>& v, int64_t n, int64_t channels, int64_t plane, int64_t c) {
  std::vector<float> out;
  for (int64_t i = 0; i < n; ++i)
    out.insert(out.end(), v.begin() + (i * channels + c) * plane, v.begin() + (i * channels + c + 1) * plane);
  return out;
}

}  // namespace

TEST_CASE("depthwise convs give each channel's single-channel conv bit for bit (forward, input gradient)",
          "[reference][conv][depthwise]") {
  // The depthwise kernels promise the implicit GEMM's multiply-add chains (forward, and the stride-1
  // input gradient through it) and col2im's adds (strided input gradient); a single-channel conv runs
  // those paths.
  for (const ConvCase& c : {ConvCase{3, 4, 16, 16, 4, 3, 1, 1, 1, 4}, ConvCase{3, 4, 17, 16, 4, 3, 2, 1, 1, 4},
                            ConvCase{2, 3, 12, 12, 3, 5, 1, 2, 1, 3}, ConvCase{2, 3, 14, 13, 3, 3, 2, 2, 2, 3}}) {
    for (const std::string& target : cpu::available_cpu_targets()) {
      cpu::ScopedCpuTarget scoped(target);
      INFO(target << " k " << c.k << " stride " << c.stride << " dilation " << c.dil);
      ConvRun all = run_conv(c);
      const std::vector<float> xv = randf({c.n, c.cin, c.h, c.w}, 1).to_vector<float>();
      const std::vector<float> wv = randf({c.cout, 1, c.k, c.k}, 2).to_vector<float>();
      const int64_t ho = sl::test::conv_out_size(c, c.h), wo = sl::test::conv_out_size(c, c.w);
      const std::vector<float> gv = randf({c.n, c.cout, ho, wo}, 3).to_vector<float>();
      Conv2dArgs a;
      a.stride = {c.stride, c.stride};
      a.padding = {c.pad, c.pad};
      a.dilation = {c.dil, c.dil};
      for (int64_t ch = 0; ch < c.cin; ++ch) {
        Tensor x = from_vector(channel_of(xv, c.n, c.cin, c.h * c.w, ch), {c.n, 1, c.h, c.w});
        Tensor w = from_vector(std::vector<float>(wv.begin() + ch * c.k * c.k, wv.begin() + (ch + 1) * c.k * c.k),
                               {1, 1, c.k, c.k});
        x.requires_grad_();
        Tensor y = conv2d(x, w, Tensor(), a);
        y.backward(from_vector(channel_of(gv, c.n, c.cout, ho * wo, ch), y.shape()));
        CHECK(y.detach().to_vector<float>() == channel_of(all.y, c.n, c.cout, ho * wo, ch));
        CHECK(x.grad().to_vector<float>() == channel_of(all.gx, c.n, c.cin, c.h * c.w, ch));
      }
    }
  }
}

TEST_CASE("conv2d with many images matches per-image results (batch-parallel path)", "[reference][conv]") {
  Tensor x = randf({16, 3, 8, 8}, 4), w = randf({5, 3, 3, 3}, 5);
  Conv2dArgs a;
  a.padding = {1, 1};
  Tensor all = conv2d(x, w, Tensor(), a);
  for (int64_t n = 0; n < 16; ++n) {
    Tensor one = conv2d(x.slice(n, n + 1), w, Tensor(), a);
    CHECK(one.to_vector<float>() == all.slice(n, n + 1).to_vector<float>());
  }
}

TEST_CASE("max and average pooling match reference loops", "[reference][pool]") {
  const int64_t N = 2, C = 3, H = 7, W = 6;
  Tensor x = randf({N, C, H, W}, 6);
  std::vector<float> xv = x.to_vector<float>();
  Pool2dArgs args{{3, 2}, {2, 2}, {1, 1}, true};
  Tensor mx = max_pool2d(x, args), av = avg_pool2d(x, args);
  args.count_include_pad = false;
  Tensor av_ex = avg_pool2d(x, args);
  int64_t ho = (H + 2 - 3) / 2 + 1, wo = (W + 2 - 2) / 2 + 1;
  REQUIRE(mx.shape() == Shape{N, C, ho, wo});
  std::vector<double> rmax, ravg, ravg_ex;
  for (int64_t p = 0; p < N * C; ++p)
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j) {
        double best = -std::numeric_limits<double>::infinity(), s = 0;
        int cnt = 0;
        for (int64_t ki = 0; ki < 3; ++ki)
          for (int64_t kj = 0; kj < 2; ++kj) {
            int64_t ih = i * 2 - 1 + ki, iw = j * 2 - 1 + kj;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            double v = xv[static_cast<size_t>((p * H + ih) * W + iw)];
            best = std::max(best, v);
            s += v;
            ++cnt;
          }
        // Padded window size, clipped to the padded input (PyTorch's count_include_pad).
        int64_t h0 = i * 2 - 1, w0 = j * 2 - 1;
        int64_t h1 = std::min<int64_t>(h0 + 3, H + 1), w1 = std::min<int64_t>(w0 + 2, W + 1);
        rmax.push_back(best);
        ravg.push_back(s / static_cast<double>((h1 - h0) * (w1 - w0)));
        ravg_ex.push_back(s / cnt);
      }
  check_close(mx.to_vector<float>(), rmax, 0);
  check_close(av.to_vector<float>(), ravg, 1e-6);
  check_close(av_ex.to_vector<float>(), ravg_ex, 1e-6);

  Tensor ad = adaptive_avg_pool2d(x, {3, 4});
  std::vector<double> rad;
  for (int64_t p = 0; p < N * C; ++p)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        int64_t h0 = i * H / 3, h1 = ((i + 1) * H + 2) / 3, w0 = j * W / 4, w1 = ((j + 1) * W + 3) / 4;
        double s = 0;
        for (int64_t a = h0; a < h1; ++a)
          for (int64_t b = w0; b < w1; ++b) s += xv[static_cast<size_t>((p * H + a) * W + b)];
        rad.push_back(s / static_cast<double>((h1 - h0) * (w1 - w0)));
      }
  check_close(ad.to_vector<float>(), rad, 1e-6);
}

TEST_CASE("batch norm matches reference statistics, output and running averages", "[reference][batchnorm]") {
  const int64_t N = 4, C = 3, H = 5, W = 2;
  Tensor x = randf({N, C, H, W}, 7, -2, 3);
  Tensor gamma = randf({C}, 8, 0.5, 1.5), beta = randf({C}, 9);
  Tensor rm = randf({C}, 10), rv = randf({C}, 11, 0.5, 1.5);
  std::vector<float> rm0 = rm.to_vector<float>(), rv0 = rv.to_vector<float>();
  Tensor y = batch_norm(x, gamma, beta, rm, rv, true, 0.1, 1e-5);
  std::vector<float> xv = x.to_vector<float>(), g = gamma.to_vector<float>(), b = beta.to_vector<float>();
  std::vector<double> ry(xv.size());
  for (int64_t c = 0; c < C; ++c) {
    double s = 0, sq = 0, m = N * H * W;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < H * W; ++k) s += xv[static_cast<size_t>((n * C + c) * H * W + k)];
    double mean = s / m;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < H * W; ++k) {
        double d = xv[static_cast<size_t>((n * C + c) * H * W + k)] - mean;
        sq += d * d;
      }
    double var = sq / m;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < H * W; ++k) {
        size_t i = static_cast<size_t>((n * C + c) * H * W + k);
        ry[i] = (xv[i] - mean) / std::sqrt(var + 1e-5) * g[static_cast<size_t>(c)] + b[static_cast<size_t>(c)];
      }
    CHECK(rm.to_vector<float>()[static_cast<size_t>(c)] == Approx(0.9 * rm0[static_cast<size_t>(c)] + 0.1 * mean));
    CHECK(rv.to_vector<float>()[static_cast<size_t>(c)] ==
          Approx(0.9 * rv0[static_cast<size_t>(c)] + 0.1 * var * m / (m - 1)));
  }
  check_close(y.to_vector<float>(), ry, 1e-5);

  // Evaluation mode uses the running statistics.
  Tensor ye = batch_norm(x, gamma, beta, rm, rv, false, 0.1, 1e-5);
  std::vector<float> rmv = rm.to_vector<float>(), rvv = rv.to_vector<float>();
  std::vector<double> rye(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    size_t c = (i / static_cast<size_t>(H * W)) % static_cast<size_t>(C);
    rye[i] = (xv[i] - rmv[c]) / std::sqrt(rvv[c] + 1e-5) * g[c] + b[c];
  }
  check_close(ye.to_vector<float>(), rye, 1e-5);
}

TEST_CASE("f32 batch norm stays precise when the mean is large against the spread", "[reference][batchnorm]") {
  // Values near 1000 with spread ~0.6: a naive one-pass E[x^2] - E[x]^2 in f32 would lose the
  // variance entirely. The f64 run of the same values is the reference; inner = 36 exercises the
  // vector lanes and their tail.
  Tensor x = add(randf({8, 3, 6, 6}, 21), full({1}, 1000.0f));
  Tensor gamma = randf({3}, 22, 0.5, 1.5), beta = randf({3}, 23), gy = randf({8, 3, 6, 6}, 24);
  auto run = [&](DType dt, Tensor& gx) {
    Tensor xi = x.to(dt).detach();
    xi.requires_grad_();
    Tensor rm = zeros({3}, dt), rv = ones({3}, dt);
    Tensor y = batch_norm(xi, gamma.to(dt), beta.to(dt), rm, rv, true, 0.1, 1e-5);
    y.backward(gy.to(dt));
    gx = xi.grad();
    return y.detach();
  };
  Tensor gx32, gx64;
  Tensor y32 = run(DType::f32, gx32), y64 = run(DType::f64, gx64);
  check_close(y32.to_vector<float>(), y64.to_vector<double>(), 2e-4);
  check_close(gx32.to_vector<float>(), gx64.to_vector<double>(), 2e-4);
}

TEST_CASE("softmax rows sum to one and cross-entropy equals -log p[label]", "[reference][softmax]") {
  Tensor logits = randf({4, 5}, 12, -3, 3);
  Tensor p = softmax(logits, 1);
  Tensor rows = sum(p, {1});
  for (float v : rows.to_vector<float>()) CHECK(v == Approx(1.0f));
  Tensor labels = from_vector<int32_t>({4, 0, 2, 2});
  std::vector<float> pv = p.to_vector<float>();
  double want = 0;
  for (int i = 0; i < 4; ++i) want -= std::log(pv[static_cast<size_t>(i * 5 + labels.data<int32_t>()[i])]);
  CHECK(cross_entropy(logits, labels).item() == Approx(want / 4).epsilon(1e-5));
}
