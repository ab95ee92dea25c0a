// The per-target CPU kernels (backends/cpu/simd/) on every SIMD target this machine runs, in one test
// run: each against a reference loop, and the bitwise promises (GEMM and conv identical on every
// target with FMA, and for 1 and 2 threads).
#include <cmath>
#include <cstring>

#include "backends/backend.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/simd/target.h"
#include "engine/threads.h"
#include "helpers.h"

using namespace sl;
using sl::cpu::ScopedCpuTarget;
using sl::test::randf;

namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) { return randf({static_cast<int64_t>(n)}, seed).to_vector<float>(); }

// Targets whose multiply-add is one rounding (FMA): their GEMM results agree to the bit.
bool has_fma(const std::string& target) { return target == "avx512" || target == "avx2" || target == "neon"; }

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
  CHECK(targets.back() == "scalar");
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
          cpu::gemm_packed_rows(packed, n, brow.data(), c_rows_b.data(), ldc, accumulate);
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

TEST_CASE("GEMM results are bitwise identical across FMA targets and thread counts", "[simd][gemm][determinism]") {
  const GemmCase g{70, 300, 600, false, false, 1, 0};
  std::vector<float> a = random_floats(static_cast<size_t>(g.m * g.k), 4), b = random_floats(static_cast<size_t>(g.k * g.n), 5);
  std::vector<float> c0(static_cast<size_t>(g.m * g.n));
  std::vector<float> first;
  std::string first_target;
  for (const std::string& target : cpu::available_cpu_targets()) {
    if (!has_fma(target)) continue;
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
