// The benchmark records of `bench train` and `bench infer` in ../shared/bench/torch_ref.py's JSON
// schema, so compare.py lines them up with PyTorch's.
#pragma once
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "backends/cpu/simd/target.h"
#include "tools/timing.h"

namespace sl::tools {

// One result: times, throughput and the CPU it ran on.
inline nlohmann::ordered_json bench_record(const std::string& id, int threads, int64_t batch, const Timing& t,
                                           double gflop) {
  return {{"id", id},
          {"threads", std::to_string(threads)},
          {"batch", batch},
          {"ms_min", t.ms_min},
          {"ms_median", t.ms_median},
          {"items_per_s_median", static_cast<double>(batch) / t.ms_median * 1e3},
          {"gflop_per_call", gflop},
          {"gflop_per_s", gflop / t.ms_median * 1e3},
          {"samples", t.samples},
          {"cpu", cpu::cpu_model()},
          {"cpu_target", cpu::cpu_target()},
          {"cpu_targets_available", cpu::available_cpu_targets()}};
}

// {"meta": {engine, cpu, target, ... extra}, "results": [...]} to `path`.
inline void write_bench_json(const std::string& path, const std::string& engine, nlohmann::ordered_json extra_meta,
                             const nlohmann::ordered_json& results) {
  nlohmann::ordered_json meta = {{"engine", engine},
                                 {"cpu", cpu::cpu_model()},
                                 {"cpu_target", cpu::cpu_target()},
                                 {"cpu_targets_available", cpu::available_cpu_targets()}};
  for (auto it = extra_meta.begin(); it != extra_meta.end(); ++it) meta[it.key()] = it.value();
  std::ofstream(path) << nlohmann::ordered_json{{"meta", meta}, {"results", results}}.dump(2) << "\n";
  fmt::print("wrote {}\n", path);
}

}  // namespace sl::tools
