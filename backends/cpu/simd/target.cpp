// The per-target kernel tables, built once: for every target compiled in and supported by the CPU,
// Highway is pinned to that target and each kernel file fills its slots. Switching target is then
// a pointer swap, so tests can run every kernel on every target in one process.
#include "backends/cpu/simd/target.h"

#include <hwy/highway.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "backends/cpu/simd/fill.h"
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
    case HWY_AVX3_DL: return "avx512-dl";
    case HWY_AVX3: return "avx512";
    case HWY_EMU128:
    case HWY_SCALAR: return "scalar";
    default: return lowercase(hwy::TargetName(bit));
  }
}

struct Entry {
  std::string name;
  SimdKernels kernels;
};

struct State {
  std::vector<Entry> entries;  // best first
  const Entry* active = nullptr;
};

std::vector<Entry> build_entries() {
  std::vector<Entry> entries;
  const int64_t compiled_and_supported = hwy::SupportedTargets() & HWY_TARGETS;
  // Lower bits are better targets.
  for (int64_t rest = compiled_and_supported; rest != 0; rest &= rest - 1) {
    const int64_t bit = rest & -rest;
    hwy::SetSupportedTargetsForTest(bit);  // HWY_DYNAMIC_DISPATCH now picks `bit`
    Entry e;
    e.name = target_name(bit);
    fill_gemm_kernels(e.kernels);
    fill_norm_kernels(e.kernels);
    fill_elementwise_kernels(e.kernels);
    fill_pool_quant_kernels(e.kernels);
    fill_optim_kernels(e.kernels);
    fill_shift_quant_kernels(e.kernels);
    entries.push_back(std::move(e));
  }
  hwy::SetSupportedTargetsForTest(0);
  for (Entry& e : entries) e.kernels.target = e.name.c_str();
  return entries;
}

std::string joined_names(const std::vector<Entry>& entries) {
  std::string s;
  for (const Entry& e : entries) s += (s.empty() ? "" : " ") + e.name;
  return s;
}

const Entry* find(const State& st, const std::string& name) {
  for (const Entry& e : st.entries)
    if (e.name == name) return &e;
  return nullptr;
}

const Entry& checked(const State& st, const std::string& name, const char* source) {
  const Entry* e = find(st, name);
  SL_CHECK(e, "{}{}: this CPU ({}) and build run only the targets {}", source, name, cpu_model(),
           joined_names(st.entries));
  return *e;
}

State& state() {
  static State st = [] {
    State s;
    s.entries = build_entries();
    s.active = &s.entries.front();
    const char* env = std::getenv("SHIFTLAB_CPU_TARGET");
    if (env && *env) s.active = &checked(s, lowercase(env), "SHIFTLAB_CPU_TARGET=");
    return s;
  }();
  return st;
}

}  // namespace

const SimdKernels& simd() { return state().active->kernels; }

std::vector<std::string> available_cpu_targets() {
  std::vector<std::string> names;
  for (const Entry& e : state().entries) names.push_back(e.name);
  return names;
}

std::string cpu_target() { return state().active->name; }

void set_cpu_target(const std::string& name) {
  State& st = state();
  st.active = &checked(st, name, "CPU target ");
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
  return cpu_model() + ", target " + cpu_target() + " (available: " + joined_names(state().entries) + ")";
}

}  // namespace sl::cpu
