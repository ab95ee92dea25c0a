// The per-target CPU kernels (backends/cpu/simd/) on every SIMD target this machine runs, in one test
// run: each against a reference loop, and the bitwise promises (GEMM and conv identical on every
// target with FMA, and for 1 and 2 threads).
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <limits>

#include "backends/backend.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/simd/nearest_level.h"
#include "backends/cpu/simd/target.h"
#include "engine/threads.h"
#include "helpers.h"
#include "quant/levels.h"

using namespace sl;
using sl::cpu::ScopedCpuTarget;
using sl::test::randf;

namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) { return randf({static_cast<int64_t>(n)}, seed).to_vector<float>(); }


bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct GemmCase {
  int64_t m, n, k;
  bool ta, tb;
  float alpha, beta;
};

// C = alpha op(A) op(B) + beta C through the CPU backend's gemm kernel, with padded leading dimensions.
std::vector<float> run_gemm(const GemmCase& g, const std::vector<float>& a, const std::vector<float>& b,
                            std::vector<float> c, int64_t lda, int64_t ldb, int64_t ldc) {
  backend(Device::cpu)
      .gemm(DType::f32, g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.data(), lda, 0, b.data(), ldb, 0, g.beta, c.data(), ldc, 0, 1);
  return c;
}

}  // namespace

TEST_CASE("the CPU target list names the target in use and can switch", "[simd]") {
  std::vector<std::string> targets = cpu::available_cpu_targets();
  REQUIRE(!targets.empty());
  const char* forced = std::getenv("SHIFTLAB_CPU_TARGET");
  CHECK(cpu::cpu_target() == (forced && *forced ? std::string(forced) : targets.front()));
#if defined(__x86_64__)
  CHECK(targets.back() == "scalar");  // the portable baseline is below every SIMD target
#endif
  for (const std::string& t : targets) {
    ScopedCpuTarget scoped(t);
    CHECK(cpu::cpu_target() == t);
  }
  CHECK(test::error_of([] { cpu::set_cpu_target("avx1024"); }).find("run only the targets") != std::string::npos);
  CHECK(cpu::cpu_description().find("target " + cpu::cpu_target()) != std::string::npos);
}

TEST_CASE("GEMM matches a reference loop on every target (tiles, tails, transposes, alpha, beta)", "[simd][gemm]") {
  const std::vector<GemmCase> cases = {
      {1, 1, 1, false, false, 1, 0},     {5, 3, 7, false, false, 1, 0},   {6, 16, 37, false, false, 1, 1},
      {7, 17, 37, false, false, 1, 0},   {8, 47, 9, false, false, 1, 1},  {13, 48, 37, true, false, 1, 0},
      {14, 49, 37, false, true, 1, 0},   {15, 100, 20, true, true, 1, 1}, {16, 33, 300, false, false, 1, 0},
      {20, 96, 37, false, false, 0.5f, 0.25f}, {29, 15, 40, false, false, 1, 0}, {50, 8, 37, false, true, 1, 1},
      {64, 65, 70, false, false, 1, 0},  {65, 64, 513, true, false, 1, 0}, {300, 130, 30, false, false, 2, -1}};
  for (const std::string& target : cpu::available_cpu_targets()) {
    ScopedCpuTarget scoped(target);
    for (const GemmCase& g : cases) {
      const int64_t ar = g.ta ? g.k : g.m, ac = g.ta ? g.m : g.k, br = g.tb ? g.n : g.k, bc = g.tb ? g.k : g.n;
      const int64_t lda = ac + 3, ldb = bc + 2, ldc = g.n + 5;
      std::vector<float> a = random_floats(static_cast<size_t>(ar * lda), 1), b = random_floats(static_cast<size_t>(br * ldb), 2);
      std::vector<float> c0 = random_floats(static_cast<size_t>(g.m * ldc), 3);
      std::vector<float> c = run_gemm(g, a, b, c0, lda, ldb, ldc);
      int64_t bad = 0;
      for (int64_t i = 0; i < g.m; ++i)
        for (int64_t j = 0; j < ldc; ++j) {
          const size_t at = static_cast<size_t>(i * ldc + j);
          double want = c0[at];
          if (j < g.n) {
            double sum = 0;
            for (int64_t p = 0; p < g.k; ++p)
              sum += static_cast<double>(g.ta ? a[static_cast<size_t>(p * lda + i)] : a[static_cast<size_t>(i * lda + p)]) *
                     (g.tb ? b[static_cast<size_t>(j * ldb + p)] : b[static_cast<size_t>(p * ldb + j)]);
            want = g.alpha * sum + (g.beta == 0 ? 0.0 : g.beta * static_cast<double>(c0[at]));
          }
          if (std::abs(c[at] - want) > 1e-5 * static_cast<double>(g.k + 1) && bad++ < 3)
            UNSCOPED_INFO("target " << target << " m " << g.m << " n " << g.n << " k " << g.k << " ta " << g.ta << " tb "
                                    << g.tb << " at (" << i << ", " << j << "): got " << c[at] << ", want " << want);
        }
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("row-pointer GEMMs (implicit conv) match a reference loop on every target", "[simd][gemm]") {
  for (const std::string& target : cpu::available_cpu_targets()) {
    ScopedCpuTarget scoped(target);
    const cpu::SimdKernels& kern = cpu::simd();
    for (int64_t m : {1, 8, 13, 16, 31}) {
      for (int64_t n : {1, 5, 16, 21, 48, 64, 100}) {
        const int64_t k = 53, lda = k + 2, ldb = n + 3, ldc = n + 5;
        std::vector<float> av = random_floats(static_cast<size_t>(m * lda), 30), bv = random_floats(static_cast<size_t>(k * ldb), 31);
        std::vector<float> cv = random_floats(static_cast<size_t>(m * ldc), 32);
        std::vector<const float*> arow, brow;
        for (int64_t i = 0; i < m; ++i) arow.push_back(av.data() + i * lda);
        for (int64_t p = 0; p < k; ++p) brow.push_back(bv.data() + p * ldb);
        cpu::PackedA packed;
        cpu::pack_a(m, k, av.data(), lda, packed);
        for (bool accumulate : {false, true}) {
          std::vector<float> c_rows_a = cv, c_rows_b = cv;
          kern.gemm_rows_a(m, n, k, arow.data(), bv.data(), ldb, c_rows_a.data(), ldc, accumulate);
          cpu::gemm_packed_rows(false, packed, n, brow.data(), c_rows_b.data(), ldc, accumulate);
          int64_t bad = 0;
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < ldc; ++j) {
              const size_t at = static_cast<size_t>(i * ldc + j);
              double want = j < n && !accumulate ? 0.0 : cv[at];
              if (j < n)
                for (int64_t p = 0; p < k; ++p)
                  want += static_cast<double>(av[static_cast<size_t>(i * lda + p)]) * bv[static_cast<size_t>(p * ldb + j)];
              const bool ok = std::abs(c_rows_a[at] - want) <= 1e-4 && std::abs(c_rows_b[at] - want) <= 1e-4;
              if (!ok && bad++ < 3)
                UNSCOPED_INFO("target " << target << " m " << m << " n " << n << " accumulate " << accumulate << " at (" << i
                                        << ", " << j << "): rows_a " << c_rows_a[at] << ", packed " << c_rows_b[at]
                                        << ", want " << want);
            }
          CHECK(bad == 0);
        }
      }
    }
  }
}

TEST_CASE("the column-parallel packed-A GEMM equals the serial one bit for bit", "[simd][gemm][determinism]") {
  const int64_t m = 16, n = 4099, k = 70;  // 4.6M multiply-adds: split over the threads
  std::vector<float> a = random_floats(static_cast<size_t>(m * k), 6), b = random_floats(static_cast<size_t>(k * n), 7);
  std::vector<const float*> brow;
  for (int64_t q = 0; q < k; ++q) brow.push_back(b.data() + q * n);
  for (const std::string& target : cpu::available_cpu_targets()) {
    ScopedCpuTarget scoped(target);
    cpu::PackedA packed;
    cpu::pack_a(m, k, a.data(), k, packed);
    std::vector<float> serial(static_cast<size_t>(m * n)), parallel(serial.size());
    cpu::gemm_packed_rows(false, packed, n, brow.data(), serial.data(), n, false);
    ThreadLimit limit(2);
    cpu::gemm_packed_rows(true, packed, n, brow.data(), parallel.data(), n, false);
    INFO(target);
    CHECK(same_bits(serial, parallel));
  }
}

TEST_CASE("GEMM results are bitwise identical across FMA targets and thread counts", "[simd][gemm][determinism]") {
  const GemmCase g{70, 300, 600, false, false, 1, 0};
  std::vector<float> a = random_floats(static_cast<size_t>(g.m * g.k), 4), b = random_floats(static_cast<size_t>(g.k * g.n), 5);
  std::vector<float> c0(static_cast<size_t>(g.m * g.n));
  std::vector<float> first;
  std::string first_target;
  for (const std::string& target : cpu::available_cpu_targets()) {
    if (!test::target_has_fma(target)) continue;
    ScopedCpuTarget scoped(target);
    for (int threads : {1, 2}) {
      ThreadLimit limit(threads);
      std::vector<float> c = run_gemm(g, a, b, c0, g.k, g.n, g.n);
      if (first.empty()) {
        first = c;
        first_target = target;
      }
      INFO("target " << target << ", " << threads << " threads, against " << first_target << ", 1 thread");
      CHECK(same_bits(c, first));
    }
  }
}

namespace {

// Values that exercise every branch: signs, zeros, halves (rounding ties), the ReLU6 edges, NaN, inf.
template <class T>
std::vector<T> special_values(size_t n) {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  std::vector<T> base = {T(0), T(-0.0), T(0.5), T(-0.5), T(1.5), T(2.5), T(-2.5), T(6), T(6.5), T(-7.25), T(1e-3),
                         T(3), nan, inf, -inf, T(0.75)};
  std::vector<T> v(n);
  Generator g(9);
  Tensor r = rand({static_cast<int64_t>(n)}, DType::f64, Device::cpu, -8, 8, &g);
  for (size_t i = 0; i < n; ++i) v[i] = i % 3 == 0 ? base[(i / 3) % base.size()] : static_cast<T>(r.data<double>()[i]);
  return v;
}

template <class T>
bool same_value(T a, T b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof(T)) == 0;
}

// The scalar definition of every unary op and derivative (what the kernels must reproduce exactly).
template <class T>
T unary_ref(UnaryOp op, T v) {
  switch (op) {
    case UnaryOp::neg: return -v;
    case UnaryOp::abs: return std::abs(v);
    case UnaryOp::sign: return T((v > 0) - (v < 0));
    case UnaryOp::exp: return std::exp(v);
    case UnaryOp::log: return std::log(v);
    case UnaryOp::log2: return std::log2(v);
    case UnaryOp::exp2: return std::exp2(v);
    case UnaryOp::sqrt: return std::sqrt(v);
    case UnaryOp::round: return std::nearbyint(v);
    case UnaryOp::floor: return std::floor(v);
    case UnaryOp::ceil: return std::ceil(v);
    case UnaryOp::relu: return v < 0 ? T(0) : v;
    case UnaryOp::relu6: return v < 0 ? T(0) : (v > 6 ? T(6) : v);
    case UnaryOp::sigmoid: return T(1) / (T(1) + std::exp(-v));
    case UnaryOp::tanh: return std::tanh(v);
    case UnaryOp::reciprocal: return T(1) / v;
    case UnaryOp::square: return v * v;
    default: return 0;
  }
}

template <class T>
T unary_grad_ref(UnaryOp op, T v, T r, T g) {
  const T ln2 = T(0.6931471805599453);
  switch (op) {
    case UnaryOp::neg: return -g;
    case UnaryOp::abs: return g * T((v > 0) - (v < 0));
    case UnaryOp::exp: return g * r;
    case UnaryOp::log: return g / v;
    case UnaryOp::log2: return g / (v * ln2);
    case UnaryOp::exp2: return g * r * ln2;
    case UnaryOp::sqrt: return g / (T(2) * r);
    case UnaryOp::relu: return v > 0 ? g : T(0);
    case UnaryOp::relu6: return (v > 0 && v < 6) ? g : T(0);
    case UnaryOp::sigmoid: return g * r * (T(1) - r);
    case UnaryOp::tanh: return g * (T(1) - r * r);
    case UnaryOp::reciprocal: return -g * r * r;
    case UnaryOp::square: return T(2) * v * g;
    default: return T(0);  // sign, round, floor, ceil
  }
}

template <class T>
T binary_ref(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::add: return x + y;
    case BinaryOp::sub: return x - y;
    case BinaryOp::mul: return x * y;
    case BinaryOp::div: return x / y;
    case BinaryOp::max: return (x != x || x > y) ? x : y;
    case BinaryOp::min: return (x != x || x < y) ? x : y;
    case BinaryOp::pow: return std::pow(x, y);
    case BinaryOp::eq: return T(x == y);
    case BinaryOp::ne: return T(x != y);
    case BinaryOp::lt: return T(x < y);
    case BinaryOp::le: return T(x <= y);
    case BinaryOp::gt: return T(x > y);
    case BinaryOp::ge: return T(x >= y);
    default: return 0;
  }
}

template <class T>
void check_elementwise_on_every_target() {
  const size_t n = 37;  // several vectors of any width plus a tail
  const std::vector<T> x = special_values<T>(n), y = special_values<T>(n + 5), g = special_values<T>(n + 11);
  for (const std::string& target : cpu::available_cpu_targets()) {
    ScopedCpuTarget scoped(target);
    const cpu::TypedKernels<T>& k = cpu::simd().typed<T>();
    for (int o = 0; o < static_cast<int>(UnaryOp::COUNT); ++o) {
      const UnaryOp op = static_cast<UnaryOp>(o);
      std::vector<T> out(n), r(n), gx(n);
      k.unary(op, x.data(), out.data(), static_cast<int64_t>(n));
      for (size_t i = 0; i < n; ++i) r[i] = unary_ref(op, x[i]);
      k.unary_backward(op, x.data(), r.data(), g.data(), gx.data(), static_cast<int64_t>(n));
      for (size_t i = 0; i < n; ++i) {
        INFO(target << " " << unary_op_name(op) << " of " << x[i] << " (element " << i << ")");
        CHECK(same_value(out[i], r[i]));
        CHECK(same_value(gx[i], unary_grad_ref(op, x[i], r[i], g[i])));
      }
    }
    for (int o = 0; o < static_cast<int>(BinaryOp::COUNT); ++o) {
      const BinaryOp op = static_cast<BinaryOp>(o);
      for (int64_t sa : {0, 1})
        for (int64_t sb : {0, 1}) {
          std::vector<T> out(n);
          k.binary(op, y.data() + 2, sa, g.data() + 1, sb, out.data(), static_cast<int64_t>(n));
          for (size_t i = 0; i < n; ++i) {
            const T want = binary_ref(op, y[2 + i * static_cast<size_t>(sa)], g[1 + i * static_cast<size_t>(sb)]);
            INFO(target << " " << binary_op_name(op) << " steps " << sa << sb << " element " << i);
            CHECK(same_value(out[i], want));
          }
        }
    }
    std::vector<T> c(n), gc(n);
    k.clamp(x.data(), c.data(), static_cast<int64_t>(n), T(-1.5), T(2.5));
    k.clamp_backward(x.data(), g.data(), gc.data(), static_cast<int64_t>(n), T(-1.5), T(2.5));
    for (size_t i = 0; i < n; ++i) {
      INFO(target << " clamp of " << x[i]);
      CHECK(same_value(c[i], x[i] < T(-1.5) ? T(-1.5) : (x[i] > T(2.5) ? T(2.5) : x[i])));
      CHECK(same_value(gc[i], (x[i] >= T(-1.5) && x[i] <= T(2.5)) ? g[i] : T(0)));
    }
  }
}

}  // namespace

TEST_CASE("element-wise kernels equal their scalar definitions bit for bit on every target", "[simd][elementwise]") {
  check_elementwise_on_every_target<float>();
  check_elementwise_on_every_target<double>();
}

namespace {

template <class T>
void check_batch_norm_kernels_on_every_target() {
  for (int64_t len : {1, 15, 16, 17, 64, 100, 1024}) {
    std::vector<T> a(static_cast<size_t>(len)), b(static_cast<size_t>(len)), gy(static_cast<size_t>(len));
    Generator gen(static_cast<uint64_t>(len));
    Tensor r = rand({3 * len}, DType::f64, Device::cpu, -3, 5, &gen);
    for (int64_t i = 0; i < len; ++i) {
      a[static_cast<size_t>(i)] = static_cast<T>(r.data<double>()[i] * 100);
      b[static_cast<size_t>(i)] = static_cast<T>(r.data<double>()[len + i]);
      gy[static_cast<size_t>(i)] = static_cast<T>(r.data<double>()[2 * len + i]);
    }
    double first_s1 = 0, first_s2 = 0;
    std::vector<T> first_y, first_gx;
    std::string first_target;
    for (const std::string& target : cpu::available_cpu_targets()) {
      ScopedCpuTarget scoped(target);
      const cpu::TypedKernels<T>& k = cpu::simd().typed<T>();
      double s1 = 0, s2 = 0;
      k.bn_sums(a.data(), a[0], b.data(), T(0.25), len, s1, s2);
      std::vector<T> y(a.size()), gx(a.size());
      k.bn_normalize(a.data(), len, T(3), T(0.5), T(-1), y.data());
      k.bn_backward(gy.data(), a.data(), len, T(0.5), T(-0.125), T(3), T(0.75), gx.data());
      double want1 = 0, want2 = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        want1 += static_cast<double>(a[i]) - static_cast<double>(a[0]);
        want2 += (static_cast<double>(a[i]) - static_cast<double>(a[0])) * (static_cast<double>(b[i]) - 0.25);
        INFO(target << " len " << len << " element " << i);
        CHECK(same_value(y[i], T((a[i] - T(3)) * T(0.5) + T(-1))));
        CHECK(same_value(gx[i], T(T(0.5) * gy[i] + T(-0.125) * (a[i] - T(3)) + T(0.75))));
      }
      INFO(target << " len " << len);
      CHECK(s1 == Approx(want1).margin(1e-3 * static_cast<double>(len)));
      CHECK(s2 == Approx(want2).margin(1e-3 * static_cast<double>(len)));
      if (first_target.empty()) {
        first_target = target;
        first_s1 = s1;
        first_s2 = s2;
      }
      INFO("against " << first_target);
      CHECK(s1 == first_s1);  // 16 fixed lanes: the same sums on every target
      CHECK(s2 == first_s2);
    }
  }
}

}  // namespace

TEST_CASE("batch-norm kernels are exact and bitwise identical on every target", "[simd][batchnorm]") {
  check_batch_norm_kernels_on_every_target<float>();
  check_batch_norm_kernels_on_every_target<double>();
}

TEST_CASE("batch norm, reductions and softmax give the same bits with 1 and 2 threads", "[simd][determinism]") {
  Tensor x = randf({32, 24, 9, 9}, 40), gy = randf({32, 24, 9, 9}, 41);
  Tensor gamma = randf({24}, 42), beta = randf({24}, 43);
  std::vector<std::vector<float>> first;
  for (int threads : {1, 2}) {
    ThreadLimit limit(threads);
    Tensor xr = x.detach().clone();
    xr.requires_grad_();
    Tensor g = gamma.detach().clone(), b = beta.detach().clone();
    g.requires_grad_();
    b.requires_grad_();
    Tensor y = batch_norm(xr, g, b, Tensor(), Tensor(), true, 0.1, 1e-5);
    y.backward(gy);
    std::vector<std::vector<float>> got = {y.detach().to_vector<float>(), xr.grad().to_vector<float>(),
                                           g.grad().to_vector<float>(), b.grad().to_vector<float>(),
                                           sum(x, {0, 2, 3}).to_vector<float>(), sum(x).to_vector<float>(),
                                           log_softmax(x.reshape({32, -1}), 1).to_vector<float>()};
    if (first.empty()) first = got;
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("output " << i << " with " << threads << " threads");
      CHECK(same_bits(got[i], first[i]));
    }
  }
}

TEST_CASE("2x2 max pooling matches the scan rule on every target (ties, NaN, tails)", "[simd][pool]") {
  // Output widths 18, 15 and 4 run every vector width from 16 lanes down to 2, and the scalar tail.
  for (auto [h, w] : {std::pair<int64_t, int64_t>{9, 37}, {7, 31}, {8, 8}, {3, 3}}) {
    const int64_t ho = h / 2, wo = w / 2;
    std::vector<float> x = random_floats(static_cast<size_t>(h * w), static_cast<uint64_t>(50 + w));
    for (size_t i = 0; i < x.size(); i += 7) x[i] = 0.5f;  // ties
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (size_t i : {4, 40, 41, 78, 120, 157, 200})
      if (i < x.size()) x[i] = nan;
    std::vector<float> want(static_cast<size_t>(ho * wo));
    std::vector<int32_t> want_idx(want.size());
    for (int64_t oh = 0; oh < ho; ++oh)
      for (int64_t ow = 0; ow < wo; ++ow) {
        float best = 0;
        int32_t arg = -1;
        for (int64_t ih = 2 * oh; ih < 2 * oh + 2; ++ih)
          for (int64_t iw = 2 * ow; iw < 2 * ow + 2; ++iw) {
            const float v = x[static_cast<size_t>(ih * w + iw)];
            const bool nan_held = arg >= 0 && std::isnan(best);
            if (arg < 0 || (!nan_held && (v > best || std::isnan(v)))) {
              best = v;
              arg = static_cast<int32_t>(ih * w + iw);
            }
          }
        want[static_cast<size_t>(oh * wo + ow)] = best;
        want_idx[static_cast<size_t>(oh * wo + ow)] = arg;
      }
    for (const std::string& target : cpu::available_cpu_targets()) {
      ScopedCpuTarget scoped(target);
      std::vector<float> y(want.size());
      std::vector<int32_t> idx(want.size());
      cpu::simd().f32.max_pool_2x2(x.data(), w, ho, wo, y.data(), idx.data());
      for (size_t i = 0; i < y.size(); ++i) {
        INFO(target << " plane " << h << "x" << w << " output " << i);
        CHECK(same_value(y[i], want[i]));
        CHECK(idx[i] == want_idx[i]);
      }
    }
  }
}

TEST_CASE("nearest-level projection matches the scalar window rule on every target", "[simd][quant]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (int64_t nlev : {1, 2, 5, 16, 64, 65}) {
    std::vector<double> levels(static_cast<size_t>(nlev));
    std::vector<int32_t> rank(static_cast<size_t>(nlev));
    for (int64_t l = 0; l < nlev; ++l) {
      levels[static_cast<size_t>(l)] = static_cast<double>(l * l) / 16.0 - 1.0;  // uneven spacing
      rank[static_cast<size_t>(l)] = static_cast<int32_t>((l * 7) % nlev);      // ties go against the order
    }
    std::vector<float> x = random_floats(301, static_cast<uint64_t>(60 + nlev));
    for (size_t i = 0; i < x.size(); ++i) x[i] *= static_cast<float>(nlev * nlev) / 16.0f;
    for (int64_t l = 0; l + 1 < nlev && l < 40; ++l)  // exact midpoints: equal distances
      x[static_cast<size_t>(3 * l)] = static_cast<float>((levels[size_t(l)] + levels[size_t(l + 1)]) / 2);
    x[1] = nan;
    x[4] = inf;
    x[7] = -inf;
    std::vector<float> lf(levels.begin(), levels.end());
    std::vector<float> want(x.size());
    std::vector<int32_t> want_idx(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const int64_t hi = std::lower_bound(lf.begin(), lf.end(), x[i]) - lf.begin();
      const int64_t lo = std::max<int64_t>(0, hi - 2), end = std::min<int64_t>(nlev, hi + 2);
      int64_t best = lo;
      for (int64_t k = lo + 1; k < end; ++k) {
        const float dk = std::abs(x[i] - lf[size_t(k)]), db = std::abs(x[i] - lf[size_t(best)]);
        if (dk < db || (dk == db && rank[size_t(k)] < rank[size_t(best)])) best = k;
      }
      want[i] = lf[size_t(best)];
      want_idx[i] = static_cast<int32_t>(best);
    }
    for (const std::string& target : cpu::available_cpu_targets()) {
      ScopedCpuTarget scoped(target);
      std::vector<float> value(x.size());
      std::vector<int32_t> index(x.size());
      backend(Device::cpu).nearest_level(DType::f32, x.data(), static_cast<int64_t>(x.size()), levels.data(),
                                         rank.data(), nlev, value.data(), index.data());
      for (size_t i = 0; i < x.size(); ++i) {
        INFO(target << " with " << nlev << " levels, x = " << x[i] << " (element " << i << ")");
        CHECK(value[i] == want[i]);
        CHECK(index[i] == want_idx[i]);
      }
    }
  }
}

// APoT's level sets (tie ranks from upstream's set order), in f32 and f64: the threshold count the
// vector kernels take inside the set's range gives the window rule's level at every representable
// value near each threshold and each midpoint, and on random inputs inside and outside the range.
template <class T>
void check_nearest_level_on_apot_sets() {
  for (int B = 2; B <= 6; ++B) {
    const LevelSet set = apot_levels(B);
    const auto nlev = static_cast<int64_t>(set.levels.size());
    const std::vector<T> lt(set.levels.begin(), set.levels.end());
    auto rule = [&](T v) {  // the contract, written out again
      const int64_t hi = std::lower_bound(lt.begin(), lt.end(), v) - lt.begin();
      int64_t best = std::max<int64_t>(0, hi - 2);
      for (int64_t k = best + 1; k < std::min<int64_t>(nlev, hi + 2); ++k) {
        const T dk = std::abs(v - lt[size_t(k)]), db = std::abs(v - lt[size_t(best)]);
        if (dk < db || (dk == db && set.tie_rank[size_t(k)] < set.tie_rank[size_t(best)])) best = k;
      }
      return best;
    };
    const std::vector<T> th = cpu::LevelThresholds(lt.data(), set.tie_rank.data(), nlev);
    REQUIRE(static_cast<int64_t>(th.size()) == nlev - 1);
    std::vector<T> x;
    for (int64_t k = 0; k + 1 < nlev; ++k) {
      CHECK(rule(std::nextafter(th[size_t(k)], T(-1))) == k);
      CHECK(rule(th[size_t(k)]) == k + 1);
      for (T centre : {th[size_t(k)], static_cast<T>((lt[size_t(k)] + lt[size_t(k + 1)]) / 2)}) {
        T v = centre;
        for (int s = 0; s < 4; ++s) v = std::nextafter(v, T(-1));
        for (int s = 0; s < 9; ++s, v = std::nextafter(v, T(2))) x.push_back(v);
      }
    }
    for (float r : random_floats(999, static_cast<uint64_t>(70 + B))) x.push_back(static_cast<T>(r) * T(0.7) + T(0.5));
    x.push_back(lt.front());
    x.push_back(lt.back());
    x.push_back(T(-0.0));
    for (const std::string& target : cpu::available_cpu_targets()) {
      ScopedCpuTarget scoped(target);
      std::vector<T> value(x.size());
      std::vector<int32_t> index(x.size());
      backend(Device::cpu).nearest_level(DTypeOf<T>::value, x.data(), static_cast<int64_t>(x.size()), set.levels.data(),
                                         set.tie_rank.data(), nlev, value.data(), index.data());
      for (size_t i = 0; i < x.size(); ++i) {
        INFO(target << " B = " << B << ", x = " << x[i] << " (element " << i << ")");
        REQUIRE(index[i] == rule(x[i]));
        REQUIRE(value[i] == lt[size_t(index[i])]);
      }
    }
  }
}

TEST_CASE("nearest level by threshold count equals the window rule on APoT's sets", "[simd][quant]") {
  check_nearest_level_on_apot_sets<float>();
  check_nearest_level_on_apot_sets<double>();
}

TEST_CASE("level thresholds are refused for sets the count cannot stand for", "[simd][quant]") {
  const std::vector<float> repeated{0.0f, 0.5f, 0.5f, 1.0f}, unsorted{0.0f, 1.0f, 0.5f};
  const std::vector<int32_t> rank{0, 1, 2, 3};
  CHECK(cpu::LevelThresholds(repeated.data(), rank.data(), 4).empty());
  CHECK(cpu::LevelThresholds(unsorted.data(), rank.data(), 3).empty());
  // The midpoint of {0, 1} is a tie: it stays at level 0 when level 0 ranks first, else goes up.
  const std::vector<float> two{0.0f, 1.0f};
  const std::vector<int32_t> up{1, 0};
  CHECK(cpu::LevelThresholds(two.data(), rank.data(), 2) == std::vector<float>{std::nextafter(0.5f, 1.0f)});
  CHECK(cpu::LevelThresholds(two.data(), up.data(), 2) == std::vector<float>{0.5f});
}

TEST_CASE("shiftlab --version names the CPU and its targets, SHIFTLAB_CPU_TARGET forces one or fails clearly",
          "[simd][cli]") {
  const std::vector<std::string> targets = cpu::available_cpu_targets();
  test::CliResult plain = test::run_cli("--version");
  CHECK(plain.exit_code == 0);
  CHECK(plain.output.find("target " + targets.front()) != std::string::npos);
  CHECK(plain.output.find("available: " + targets.front()) != std::string::npos);
  std::string upper = targets.back();  // the variable's value is not case-sensitive
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  test::CliResult forced = test::run_cli("--version", "SHIFTLAB_CPU_TARGET=" + upper);
  CHECK(forced.exit_code == 0);
  CHECK(forced.output.find("target " + targets.back() + " (") != std::string::npos);
  test::CliResult bad = test::run_cli("bench gemm --m 8 --n 8 --k 8", "SHIFTLAB_CPU_TARGET=avx1024");
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("SHIFTLAB_CPU_TARGET=avx1024") != std::string::npos);
  CHECK(bad.output.find("run only the targets") != std::string::npos);
}

TEST_CASE("denormals are flushed to zero in the kernels' threads", "[simd][denormals]") {
  // 1e-30 * 1e-10 = 1e-40 is subnormal in f32: flushed to 0 on the calling thread and on every oneTBB
  // worker (x86 MXCSR FTZ/DAZ, AArch64 FPCR.FZ). On other architectures nothing is promised.
#if defined(__x86_64__) || defined(__aarch64__)
  backend(Device::cpu);  // installs the flush on this thread and the worker observer
  const int64_t n = 1 << 20;  // several oneTBB chunks, so workers run some of them
  std::vector<float> a(static_cast<size_t>(n), 1e-30f), b(static_cast<size_t>(n), 1e-10f), c(static_cast<size_t>(n), 1.0f);
  for (int threads : {1, 2}) {
    ThreadLimit limit(threads);
    backend(Device::cpu).binary(BinaryOp::mul, DType::f32, a.data(), Shape{n}, b.data(), Shape{n}, c.data(), Shape{n});
    int64_t nonzero = 0;
    for (float v : c) nonzero += v != 0.0f;
    INFO(threads << " threads");
    CHECK(nonzero == 0);
  }
  // Subnormal inputs read as zero too (DAZ): 1e-40 * 1e30 would be 1e-10 without it.
  std::vector<float> sub(static_cast<size_t>(n), 1e-40f), big(static_cast<size_t>(n), 1e30f);
  backend(Device::cpu).binary(BinaryOp::mul, DType::f32, sub.data(), Shape{n}, big.data(), Shape{n}, c.data(), Shape{n});
  CHECK(c.front() == 0.0f);
  CHECK(c.back() == 0.0f);
#endif
}

TEST_CASE("transpose and stride-2 gather are exact on every target (blocks and edges)", "[simd][layout]") {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {4, 4}, {5, 7}, {16, 33}, {13, 8}}) {
    const int64_t lds = cols + 3, ldd = rows + 2;
    std::vector<float> src = random_floats(static_cast<size_t>(rows * lds), 70);
    for (const std::string& target : cpu::available_cpu_targets()) {
      ScopedCpuTarget scoped(target);
      std::vector<float> dst(static_cast<size_t>(cols * ldd), -7.0f);
      cpu::simd().f32.transpose(src.data(), lds, rows, cols, dst.data(), ldd);
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t r = 0; r < ldd; ++r) {
          INFO(target << " " << rows << "x" << cols << " at (" << c << ", " << r << ")");
          CHECK(dst[static_cast<size_t>(c * ldd + r)] == (r < rows ? src[static_cast<size_t>(r * lds + c)] : -7.0f));
        }
      std::vector<float> even(static_cast<size_t>(cols), -7.0f);
      cpu::simd().f32.gather_stride2(src.data(), even.data(), std::min<int64_t>(cols, (rows * lds + 1) / 2));
      for (int64_t i = 0; i < std::min<int64_t>(cols, (rows * lds + 1) / 2); ++i) CHECK(even[static_cast<size_t>(i)] == src[static_cast<size_t>(2 * i)]);
    }
  }
}

TEST_CASE("optimizer steps give the same bits on every target", "[simd][optim]") {
  // std::fma is exactly rounded whether it is one instruction (AVX2, AVX-512, NEON) or the C library's.
  const int64_t n = 1000;
  const std::vector<float> p0 = random_floats(n, 80), g = random_floats(n, 81), m0 = random_floats(n, 82);
  std::vector<float> v0 = random_floats(n, 83);
  for (float& x : v0) x = x * x;
  const SgdStep sgd{1e-4, 0.9, 0.1, -0.05, false, false};
  AdamStep adam{0.9, 0.999, 1e-8, 1e-4, 1.0, false, std::sqrt(1 - 0.999 * 0.999), -0.001 / (1 - 0.81)};
  const RAdamStep radam{0.9, 0.999, 1e-5, -1e-6, true, -0.01, true, 0.5};
  std::vector<std::vector<float>> first;
  std::string first_target;
  for (const std::string& target : cpu::available_cpu_targets()) {
    ScopedCpuTarget scoped(target);
    Backend& be = backend(Device::cpu);
    std::vector<float> ps = p0, buf = m0, pa = p0, ma = m0, va = v0, vmax(static_cast<size_t>(n), 0.5f);
    std::vector<float> pr = p0, mr = m0, vr = v0, slow = g;
    be.sgd_step(DType::f32, sgd, ps.data(), g.data(), buf.data(), n);
    be.adam_step(DType::f32, adam, pa.data(), g.data(), ma.data(), va.data(), vmax.data(), n);
    be.radam_step(DType::f32, radam, pr.data(), g.data(), mr.data(), vr.data(), slow.data(), n);
    // SGD by its definition (momentum 0.9, dampening 0.1, weight decay 1e-4, lr 0.05).
    for (int64_t i = 0; i < n; ++i) {
      const size_t k = static_cast<size_t>(i);
      const float d = std::fma(p0[k], 1e-4f, g[k]);
      const float b = std::fma(d, 0.9f, m0[k] * 0.9f);
      INFO(target << " sgd element " << i);
      CHECK(buf[k] == b);
      CHECK(ps[k] == std::fma(b, -0.05f, p0[k]));
    }
    std::vector<std::vector<float>> got = {ps, buf, pa, ma, va, vmax, pr, mr, vr, slow};
    if (first_target.empty()) {
      first = got;
      first_target = target;
    }
    for (size_t i = 0; i < got.size(); ++i) {
      INFO(target << " against " << first_target << ", output " << i);
      CHECK(same_bits(got[i], first[i]));
    }
  }
}

#include "quant/deepshift.h"

namespace {

// Each (got, want) pair element by element: the same value, NaN matching NaN.
template <class T>
void check_same_values(const std::vector<std::pair<Tensor, Tensor>>& pairs, const std::string& target) {
  for (size_t k = 0; k < pairs.size(); ++k) {
    std::vector<T> got = pairs[k].first.template to_vector<T>(), want = pairs[k].second.template to_vector<T>();
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      INFO(target << " output " << k << " element " << i);
      CHECK(same_value(got[i], want[i]));
    }
  }
}

// Weights and latents with the hard cases: zeros, NaN, infinities, exponents far out of range, values
// at and around sqrt(2) * 2^k (where log2 rounds either way) and at .5 (rounding ties).
template <class T>
Tensor quant_inputs(int64_t n, uint64_t seed, double scale) {
  std::vector<T> v = special_values<T>(static_cast<size_t>(n));
  Generator g(seed);
  Tensor r = rand({n}, DType::f64, Device::cpu, -1, 1, &g);
  for (int64_t i = 0; i < n; ++i) {
    const size_t k = static_cast<size_t>(i);
    if (i % 3 != 0) v[k] = static_cast<T>(r.data<double>()[i] * scale);
    if (i % 17 == 5) v[k] = static_cast<T>(std::sqrt(2.0) * std::ldexp(1.0, -(i % 9)) * (i % 2 ? 1 : -1));
    if (i % 23 == 7) v[k] = std::nextafter(static_cast<T>(std::sqrt(2.0) / 8), T(1));
  }
  v[1] = T(-200);
  return from_vector(v);
}

template <class T>
void check_fused_deepshift_on_every_target() {
  const int64_t n = 203;
  const int lo = -14;
  Tensor x = quant_inputs<T>(n, 90, 40.0), shift0 = quant_inputs<T>(n, 91, 20.0), sign0 = quant_inputs<T>(n, 92, 1.5);
  Tensor w0 = quant_inputs<T>(n, 93, 1.2), g = quant_inputs<T>(n, 94, 1.0);
  // The compositions of element-wise ops the kernels replace.
  Tensor fixed = clamp(mul(floor(div(x, scalar_like(1.0 / 256, x))), scalar_like(1.0 / 256, x)), -8, 7);
  Tensor shift_c = clamp(shift0, lo, 0);
  Tensor s_round = sign(round(sign0)), mag = exp2(round(shift_c));
  Tensor w_ps = mul(mag, s_round);
  Tensor g_ps = mul(mul(g, s_round), mul(mag, scalar_like(0.6931471805599453, mag)));
  Tensor w_c = clampabs(w0, std::ldexp(1.0, lo), 1.0);
  Tensor w_q = round_power_of_2(w_c, Rounding::deterministic);
  for (const std::string& target : cpu::available_cpu_targets()) {
    ScopedCpuTarget scoped(target);
    Backend& be = backend(Device::cpu);
    const DType dt = x.dtype();
    Tensor y = empty_like(x), shift = shift0.clone(), w = empty_like(x), gs = empty_like(x), wl = w0.clone(), wq = empty_like(x);
    be.round_to_fixed(dt, x.raw_data(), n, 1.0 / 256, -8, 7, y.raw_data());
    be.deepshift_ps_forward(dt, n, lo, shift.raw_data(), sign0.raw_data(), w.raw_data());
    be.deepshift_ps_backward(dt, n, shift.raw_data(), sign0.raw_data(), g.raw_data(), gs.raw_data());
    be.deepshift_q_forward(dt, n, std::ldexp(1.0, lo), 1.0, wl.raw_data(), wq.raw_data());
    const std::vector<std::pair<Tensor, Tensor>> pairs = {{y, fixed}, {shift, shift_c}, {w, w_ps}, {gs, g_ps}, {wl, w_c}, {wq, w_q}};
    check_same_values<T>(pairs, target);
  }
}

}  // namespace

TEST_CASE("fused DeepShift and fixed-point kernels equal the element-wise compositions on every target",
          "[simd][quant][deepshift]") {
  check_fused_deepshift_on_every_target<float>();
  check_fused_deepshift_on_every_target<double>();
}

namespace {

Tensor sign_ge0_ref(const Tensor& t) { return sub(mul(ge(t, scalar_like(0.0, t)), scalar_like(2.0, t)), scalar_like(1.0, t)); }
Tensor positive_ref(const Tensor& t) { return gt(t, scalar_like(0.0, t)); }

// S3 and DenseShift by their element-wise compositions (the code the fused kernels replaced), against
// the kernels on every target, forward and every gradient, with a scale and with skipped gradients.
template <class T>
void check_fused_gated_on_every_target() {
  const int64_t n = 157;
  const int k = 3;
  const double scale = 0.375;
  Tensor w0 = quant_inputs<T>(n, 100, 2.0), sparse = quant_inputs<T>(n, 101, 1.0), g = quant_inputs<T>(n, 102, 1.0);
  TensorList lat;
  for (int j = 0; j < k; ++j) lat.push_back(quant_inputs<T>(n, 103 + static_cast<uint64_t>(j), 1.0));
  const Tensor one = scalar_like(1.0, w0), sc = scalar_like(scale, w0);
  // S3.
  Tensor s = sign_ge0_ref(w0), z = positive_ref(sparse), kk = zeros_like(w0);
  TensorList b(k), suffix(k);
  for (int j = k; j-- > 0;) {
    b[size_t(j)] = positive_ref(lat[size_t(j)]);
    suffix[size_t(j)] = add(one, kk);
    kk = mul(b[size_t(j)], suffix[size_t(j)]);
  }
  Tensor p = exp2(kk);
  Tensor s3_w = mul(mul(mul(s, z), p), sc);
  Tensor gs = mul(g, sc), gp = mul(gs, p);
  TensorList s3_g = {mul(gp, z), mul(gp, s)};
  Tensor base = mul(mul(mul(gp, s), z), scalar_like(0.6931471805599453, g)), prefix = ones_like(g);
  for (int j = 0; j < k; ++j) {
    s3_g.push_back(mul(base, mul(prefix, suffix[size_t(j)])));
    prefix = mul(prefix, b[size_t(j)]);
  }
  // DenseShift.
  Tensor pd = zeros_like(w0);
  TensorList before(k);
  for (int j = 0; j < k; ++j) {
    before[size_t(j)] = pd;
    pd = mul(add(pd, one), positive_ref(lat[size_t(j)]));
  }
  Tensor r = sqrt(add(pd, one));
  Tensor ds_w = mul(mul(s, exp2(pd)), sc);
  TensorList ds_g = {mul(gs, r)};
  Tensor gpd = div(mul(gs, s), mul(r, scalar_like(2.0, r))), suf = ones_like(g);
  TensorList ds_gates(k);
  for (int j = k; j-- > 0;) {
    ds_gates[size_t(j)] = mul(mul(gpd, suf), add(before[size_t(j)], one));
    suf = mul(suf, positive_ref(lat[size_t(j)]));
  }
  ds_g.insert(ds_g.end(), ds_gates.begin(), ds_gates.end());

  std::vector<const void*> lat_in;
  for (const Tensor& t : lat) lat_in.push_back(t.raw_data());
  for (const std::string& target : cpu::available_cpu_targets()) {
    ScopedCpuTarget scoped(target);
    Backend& be = backend(Device::cpu);
    const DType dt = w0.dtype();
    Tensor w3 = empty_like(w0), wd = empty_like(w0);
    TensorList g3, gd;
    for (int j = 0; j < k + 2; ++j) g3.push_back(full(w0.shape(), 7.0, dt));
    for (int j = 0; j < k + 1; ++j) gd.push_back(full(w0.shape(), 7.0, dt));
    std::vector<void*> g3_out, gd_out;
    for (int j = 0; j < k; ++j) g3_out.push_back(j == 1 ? nullptr : g3[size_t(j + 2)].raw_data());  // one skipped
    for (int j = 0; j < k; ++j) gd_out.push_back(gd[size_t(j + 1)].raw_data());
    be.s3_forward(dt, n, k, w0.raw_data(), sparse.raw_data(), lat_in.data(), scale, w3.raw_data());
    be.s3_backward(dt, n, k, w0.raw_data(), sparse.raw_data(), lat_in.data(), scale, g.raw_data(), g3[0].raw_data(),
                   g3[1].raw_data(), g3_out.data());
    be.denseshift_forward(dt, n, k, w0.raw_data(), lat_in.data(), scale, wd.raw_data());
    be.denseshift_backward(dt, n, k, w0.raw_data(), lat_in.data(), scale, g.raw_data(), nullptr, gd_out.data());
    std::vector<std::pair<Tensor, Tensor>> pairs = {{w3, s3_w}, {wd, ds_w}, {gd[0], full(w0.shape(), 7.0, dt)}};
    for (int j = 0; j < k + 2; ++j) pairs.push_back({g3[size_t(j)], j == 3 ? full(w0.shape(), 7.0, dt) : s3_g[size_t(j)]});
    for (int j = 1; j < k + 1; ++j) pairs.push_back({gd[size_t(j)], ds_g[size_t(j)]});
    check_same_values<T>(pairs, target);
  }
}

}  // namespace

TEST_CASE("fused S3 and DenseShift kernels equal the element-wise compositions on every target", "[simd][quant][s3]") {
  check_fused_gated_on_every_target<float>();
  check_fused_gated_on_every_target<double>();
}

#include "quant/apot.h"
#include "quant/levels.h"

TEST_CASE("APoT's fused clipped quantizer gives autograd's composition bit for bit on every target",
          "[simd][quant][apot]") {
  // The composition the fused kernels replaced: out = (c + (q - c).detach()) * a, c = clamp(x / a, lo, 1).
  // The larger shape spans two of a's gradient sum chunks, threads and vector tails inside them: the
  // backward's recomputed c + (q - c) must match the forward's everywhere.
  for (const Shape& shape : std::vector<Shape>{{4, 37}, {2, 40001}}) {
    for (APoTFlavour flavour : {APoTFlavour::imagenet, APoTFlavour::cifar}) {
      for (bool power : {true, false}) {
        for (double gs : {0.0, 0.5}) {
          APoTOptions o;
          o.bits = 4;
          o.power = power;
          o.flavour = flavour;
          o.grad_scale = gs;
          o.alpha = 2.5;
          Tensor x0 = randf(shape, 110, -4, 4), g = randf(shape, 111);
          // Reference by composition.
          Tensor xr = x0.clone(), ar = scalar_tensor(2.5f);
          xr.requires_grad_();
          ar.requires_grad_();
          Tensor a = gs != 0 ? add(sub(ar, mul(ar, scalar_like(gs, ar))).detach(), mul(ar, scalar_like(gs, ar))) : ar;
          const double lo = flavour == APoTFlavour::imagenet ? 0.0 : -INFINITY;
          Tensor c = clamp(div(xr, a), lo, 1), q;
          {
            NoGradGuard no_grad;
            const double n = 15;
            q = power ? project_to_levels(c, apot_levels(4))
                      : div(round(mul(clamp(c, 0, 1), scalar_like(n, c))), scalar_like(n, c));
          }
          Tensor ref = mul(add(c, sub(q, c).detach()), a);
          ref.backward(g);
          for (const std::string& target : cpu::available_cpu_targets()) {
            ScopedCpuTarget scoped(target);
            APoTActivation act(o);
            Tensor x = x0.clone();
            x.requires_grad_();
            Tensor out = act(x);
            out.backward(g);
            INFO(target << (power ? " apot" : " uniform") << (flavour == APoTFlavour::imagenet ? " imagenet" : " cifar")
                        << " grad scale " << gs << " shape " << shape_str(shape));
            CHECK(same_bits(out.detach().to_vector<float>(), ref.detach().to_vector<float>()));
            CHECK(same_bits(x.grad().to_vector<float>(), xr.grad().to_vector<float>()));
            CHECK(act.alpha().grad().item() == ar.grad().item());
          }
        }
      }
    }
  }
}

TEST_CASE("APoT's fused weight quantizer gives autograd's composition bit for bit on every target",
          "[simd][quant][apot]") {
  // imagenet flavour: c = clamp(standardize(w) / a, -1, 1); q = sign(c) * level(|c|) or round(c * 7) / 7;
  // with rescale, times the weight's std. The large shape sums alpha's gradient in several chunks.
  struct Case {
    bool power, rescale;
    double alpha;
    Shape shape;
  };
  for (const Case& k : {Case{true, false, 1.5, {5, 3, 3, 7}}, Case{true, false, 0.7, {5, 3, 3, 7}},
                        Case{false, false, 1.5, {5, 3, 3, 7}}, Case{true, true, 1.5, {5, 3, 3, 7}},
                        Case{false, true, 0.7, {5, 3, 3, 7}}, Case{true, true, 2.0, {3, 50001}}}) {
    const bool power = k.power;
    const double alpha = k.alpha;
    APoTOptions o;
    o.bits = 4;
    o.power = power;
    o.alpha = alpha;
    o.rescale = k.rescale;
    Tensor w0 = randf(k.shape, 120, -4, 4), g = randf(k.shape, 121);
    Tensor wr = w0.clone(), ar = scalar_tensor(static_cast<float>(alpha));
    wr.requires_grad_();
    ar.requires_grad_();
    Tensor c = clamp(div(standardize(wr), ar), -1, 1), q;
    {
      NoGradGuard no_grad;
      q = power ? mul(sign(c), project_to_levels(abs(c), apot_levels(3)))
                : div(round(mul(c, scalar_like(7.0, c))), scalar_like(7.0, c));
    }
    Tensor ref = mul(add(c, sub(q, c).detach()), ar);
    if (k.rescale) ref = mul(ref, scalar_like(std::sqrt(var(w0).item()), ref));
    ref.backward(g);
    for (const std::string& target : cpu::available_cpu_targets()) {
      ScopedCpuTarget scoped(target);
      APoTWeight quantizer(o);
      Tensor w = w0.clone();
      w.requires_grad_();
      Tensor out = quantizer.effective_weight(w);
      out.backward(g);
      INFO(target << (power ? " apot" : " uniform") << " alpha " << alpha << (k.rescale ? " rescaled " : " ")
                  << shape_str(k.shape));
      CHECK(same_bits(out.detach().to_vector<float>(), ref.detach().to_vector<float>()));
      CHECK(same_bits(w.grad().to_vector<float>(), wr.grad().to_vector<float>()));
      CHECK(quantizer.alpha().grad().item() == ar.grad().item());
    }
  }
}
