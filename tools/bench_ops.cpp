// `shiftlab bench ops [--filter NAME]`: the forward and the forward + backward of every case of the
// op-case table (opcases/), on the CPU (--threads) or CUDA, f32 or f64. The cases' shapes are the
// ones the checks use (small: tails and odd sizes), so this is a map of per-op overheads and
// relative costs, not of peak throughput (bench gemm / conv / train are for that).
#include <fmt/format.h>

#include <memory>
#include <string>

#include "autograd/ops.h"
#include "backends/backend.h"
#include "backends/cpu/simd/target.h"
#include "engine/threads.h"
#include "opcases/op_case.h"
#include "tools/commands.h"
#include "tools/timing.h"

namespace sl::tools {

namespace {

struct BenchOpsOptions {
  std::string filter;
  std::string device = "cpu";
  std::string dtype = "f32";
  int threads = 0;
  int repeat = 5;       // samples at least
  double budget = 0.1;  // seconds per measurement at least
};

void bench_ops(const BenchOpsOptions& o) {
  ThreadLimit limit(o.threads);
  Device device = device_from_name(o.device);
  DType dtype = dtype_from_name(o.dtype);
  Backend& be = backend(device);
  std::vector<const opcases::OpCase*> cases = opcases::select_cases(o.filter);
  SL_CHECK(!cases.empty(), "bench ops: no case matches --filter '{}' (op names: conv2d, batch_norm, apot, ...)", o.filter);
  fmt::print("op cases in {} on {}{}\n", o.dtype, o.device,
             device == Device::cpu ? fmt::format(", {} threads, {}", num_threads(), cpu::cpu_description()) : "");
  fmt::print("{:<72} {:>12} {:>14}\n", "case", "forward ms", "fwd+bwd ms");
  for (const opcases::OpCase* c : cases) {
    if (dtype == DType::f64 && !c->f64) continue;
    TensorList inputs = opcases::make_inputs(*c, dtype, device);
    auto forward = [&] {
      TensorList leaves;
      return c->fn(inputs, leaves);
    };
    Timing fwd = time_calls(
        [&] {
          forward();
          be.synchronize();
        },
        1, o.repeat, o.budget);
    Tensor probe = forward();
    Tensor seed = probe.requires_grad() ? opcases::backward_seed(probe) : Tensor();
    Timing both = time_calls(
        [&] {
          Tensor out = forward();
          if (seed.defined()) out.backward(seed);
          be.synchronize();
        },
        1, o.repeat, o.budget);
    fmt::print("{:<72} {:>12.4f} {:>14.4f}\n", c->name, fwd.ms_median, both.ms_median);
  }
}

}  // namespace

void add_bench_ops_command(CLI::App& bench) {
  auto o = std::make_shared<BenchOpsOptions>();
  auto* cmd = bench.add_subcommand("ops", "Time the forward and backward of every case of the op-case table");
  cmd->add_option("--filter", o->filter, "Only the cases whose op or name contains this (e.g. conv2d, apot)");
  cmd->add_option("--device", o->device, "Device to run on: cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--dtype", o->dtype, "f32 or f64")->check(CLI::IsMember({"f32", "f64"}));
  cmd->add_option("--threads", o->threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--repeat", o->repeat, "Timed calls per measurement, at least")->check(CLI::PositiveNumber);
  cmd->add_option("--budget", o->budget, "Seconds of timed calls per measurement, at least")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([o] { bench_ops(*o); });
}

}  // namespace sl::tools
