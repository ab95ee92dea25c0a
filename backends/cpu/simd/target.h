// Which SIMD instruction set the CPU kernels run on. The hot kernels are compiled once per target
// (Google Highway's foreach_target) and one of them is picked when the process starts: the best the
// CPU supports, or a lower one named by SHIFTLAB_CPU_TARGET (avx512-vnni, avx512, avx2, sse4, neon,
// scalar), so that any machine can test and measure the paths of smaller machines.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sl::cpu {

// Targets this binary has kernels for and this CPU can run, best first (e.g. avx512-vnni avx512 avx2
// sse4 scalar).
std::vector<std::string> available_cpu_targets();

// The target whose kernels run now.
std::string cpu_target();

// Switches every dispatched kernel to `name` (one of available_cpu_targets()); throws sl::Error naming
// the available targets otherwise. Not thread-safe: call it between kernels, not during one.
void set_cpu_target(const std::string& name);

// The processor's name as it reports itself (e.g. "AMD EPYC 9R14"), or "unknown".
std::string cpu_model();

// One line for --version, bench output and JSON records: "AMD EPYC, target avx2 (available: avx512
// avx2 sse4 scalar)".
std::string cpu_description();

// For kernel tables (the training kernels', the deploy runtime's): Highway's bit of each available
// target, best first, and the index of the active one. A table holds one entry per bit, in this order.
const std::vector<int64_t>& cpu_target_bits();
size_t cpu_target_index();
// Calls fill(i, name) for every available target with Highway pinned to it (HWY_DYNAMIC_DISPATCH
// picks target i), under a lock: the pin is process-wide.
void build_for_each_target(const std::function<void(size_t index, const char* name)>& fill);

// For tests: runs the dispatched kernels on `name` while it lives, then restores the previous target.
class ScopedCpuTarget {
 public:
  explicit ScopedCpuTarget(const std::string& name) : previous_(cpu_target()) { set_cpu_target(name); }
  ~ScopedCpuTarget() { set_cpu_target(previous_); }
  ScopedCpuTarget(const ScopedCpuTarget&) = delete;
  ScopedCpuTarget& operator=(const ScopedCpuTarget&) = delete;

 private:
  std::string previous_;
};

// Sets flush-to-zero and denormals-are-zero on the calling thread (x86 MXCSR, AArch64 FPCR.FZ).
void flush_denormals_on_this_thread();

}  // namespace sl::cpu
