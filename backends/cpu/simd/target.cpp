// Which SIMD target the dispatched kernels use: the targets compiled in and supported by this CPU,
// the active one (the best, or SHIFTLAB_CPU_TARGET), and the pinning that kernel tables are built
// with. Shared by the training kernels (tables.cpp) and the deploy runtime (deploy/kernels/), which
// each keep one table per target in the order of cpu_target_bits(), so one switch moves both.
#include "backends/cpu/simd/target.h"

#include <hwy/highway.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "engine/error.h"

#if HWY_ARCH_X86
#include <cpuid.h>
#endif

namespace sl::cpu {

namespace {

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

std::string target_name(int64_t bit) {
  switch (bit) {
    case HWY_AVX3_DL: return "avx512-vnni";  // Ice Lake / Zen 4 level: AVX-512 with VNNI, VBMI2
    case HWY_AVX3: return "avx512";
    case HWY_EMU128:
    case HWY_SCALAR: return "scalar";
    default: return lowercase(hwy::TargetName(bit));
  }
}

struct State {
  std::vector<int64_t> bits;  // best first
  std::vector<std::string> names;
  size_t active = 0;
};

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : " ") + n;
  return s;
}

size_t checked_index(const State& st, const std::string& name, const char* source) {
  auto it = std::find(st.names.begin(), st.names.end(), name);
  SL_CHECK(it != st.names.end(), "{}{}: this CPU ({}) and build run only the targets {}", source, name, cpu_model(),
           joined(st.names));
  return static_cast<size_t>(it - st.names.begin());
}

State& state() {
  static State st = [] {
    State s;
    const int64_t compiled_and_supported = hwy::SupportedTargets() & HWY_TARGETS;
    // Lower bits are better targets.
    for (int64_t rest = compiled_and_supported; rest != 0; rest &= rest - 1) {
      s.bits.push_back(rest & -rest);
      s.names.push_back(target_name(rest & -rest));
    }
    const char* env = std::getenv("SHIFTLAB_CPU_TARGET");
    if (env && *env) s.active = checked_index(s, lowercase(env), "SHIFTLAB_CPU_TARGET=");
    return s;
  }();
  return st;
}

}  // namespace

const std::vector<int64_t>& cpu_target_bits() { return state().bits; }

size_t cpu_target_index() { return state().active; }

void build_for_each_target(const std::function<void(size_t index, const char* name)>& fill) {
  static std::mutex pinning;  // SetSupportedTargetsForTest is process-wide
  std::lock_guard<std::mutex> lock(pinning);
  const State& st = state();
  for (size_t i = 0; i < st.bits.size(); ++i) {
    hwy::SetSupportedTargetsForTest(st.bits[i]);  // HWY_DYNAMIC_DISPATCH now picks this target
    fill(i, st.names[i].c_str());
  }
  hwy::SetSupportedTargetsForTest(0);
}

std::vector<std::string> available_cpu_targets() { return state().names; }

std::string cpu_target() { return state().names[state().active]; }

void set_cpu_target(const std::string& name) {
  State& st = state();
  st.active = checked_index(st, name, "CPU target ");
}

std::string cpu_model() {
  std::string model;
#if HWY_ARCH_X86
  unsigned int regs[12] = {};
  unsigned int max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext >= 0x80000004u) {
    for (unsigned int i = 0; i < 3; ++i) __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    model.assign(reinterpret_cast<const char*>(regs), sizeof regs);
    model = model.c_str();  // up to the first NUL
  }
#else
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; model.empty() && std::getline(info, line);) {
    for (const char* key : {"model name", "Model", "Hardware"}) {
      if (line.rfind(key, 0) == 0 && line.find(':') != std::string::npos) {
        model = line.substr(line.find(':') + 1);
        break;
      }
    }
  }
#endif
  // Trim the padding spaces some CPUs put around their brand string.
  const auto first = model.find_first_not_of(' '), last = model.find_last_not_of(' ');
  return first == std::string::npos ? "unknown" : model.substr(first, last - first + 1);
}

std::string cpu_description() {
  return cpu_model() + ", target " + cpu_target() + " (available: " + joined(state().names) + ")";
}

}  // namespace sl::cpu
