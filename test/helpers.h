// Shared test helpers.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "engine/factory.h"
#include "engine/safetensors.h"

namespace sl::test {

// A reproducible f64 tensor with requires_grad set, values in [lo, hi).
inline Tensor param64(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Generator g(seed);
  Tensor t = rand(shape, DType::f64, Device::cpu, lo, hi, &g);
  t.requires_grad_();
  return t;
}

inline Tensor data64(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Generator g(seed);
  return rand(shape, DType::f64, Device::cpu, lo, hi, &g);
}

inline Tensor randf(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Generator g(seed);
  return rand(shape, DType::f32, Device::cpu, lo, hi, &g);
}

// Fails the current test with gradcheck's message (input, element, analytic vs numeric).
inline void check_grad(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs) {
  GradcheckResult r = gradcheck(fn, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

// The tensor called `name` in a loaded file: a missing one fails this test case (naming it), where
// dereferencing find(name) would crash the whole test binary.
inline Tensor tensor_of(const SafetensorsContent& content, const std::string& name) {
  const Tensor* t = content.find(name);
  if (!t) FAIL("no tensor '" << name << "' in the file");
  return *t;
}

// The message of the sl::Error thrown by f ("" when nothing is thrown).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace sl::test

namespace sl::test {

// CPU targets whose multiply-add is one rounding (FMA): their f32 GEMM results agree to the bit.
inline bool target_has_fma(const std::string& target) {
  return target == "avx512-vnni" || target == "avx512" || target == "avx2" || target == "neon";
}

inline std::string golden_path(const std::string& name) { return std::string(SHIFTLAB_TEST_DATA) + "/golden/" + name; }

// Element-wise |got - want| <= tol * max(1, |want|); NaN must match NaN, infinities must match.
// Elements where `skip` (same size, optional) is nonzero are not compared.
inline void check_values(const Tensor& got, const Tensor& want, double tol = 0,
                         const std::vector<uint8_t>& skip = {}) {
  REQUIRE(got.numel() == want.numel());
  std::vector<double> a = got.to_vector<double>(), b = want.to_vector<double>();
  int64_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!skip.empty() && skip[i]) continue;
    bool ok;
    if (std::isnan(b[i])) ok = std::isnan(a[i]);
    else if (std::isinf(b[i])) ok = a[i] == b[i];
    else ok = std::abs(a[i] - b[i]) <= tol * std::max(1.0, std::abs(b[i]));
    if (!ok && bad++ < 5) {
      UNSCOPED_INFO("element " << i << ": got " << a[i] << ", want " << b[i]);
    }
  }
  CHECK(bad == 0);
}

}  // namespace sl::test

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>

namespace sl::test {

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line, capturing stdout and stderr together.
inline CliResult run_command(const std::string& command_line) {
  const std::string cmd = command_line + " 2>&1";
  CliResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs the shiftlab binary built with the tests, with `args` passed through the shell and `env`
// (e.g. "SHIFTLAB_CPU_TARGET=avx2") set for it.
inline CliResult run_cli(const std::string& args, const std::string& env = "") {
  return run_command((env.empty() ? "" : "env " + env + " ") + std::string(SHIFTLAB_CLI) + " " + args);
}

// A fresh directory under the system temp dir, removed when the object goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "tmp") {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("shiftlab_test_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string operator/(const std::string& name) const { return file(name); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sl::test
