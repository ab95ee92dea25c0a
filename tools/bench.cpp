// `shiftlab bench gemm|conv`: achieved GFLOP/s of the GEMM and of a conv layer (forward and both
// backward passes) on --device cpu (thread count set by --threads) or cuda. Every timed call ends
// with the backend's synchronize(), so GPU times cover the kernels, not just their launch.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "autograd/ops.h"
#include "backends/backend.h"
#include "backends/cpu/simd/target.h"
#include "backends/cpu/winograd.h"
#ifdef SHIFTLAB_WITH_CUDA
#include "backends/cuda/cuda_backend.h"
#endif
#include "engine/factory.h"
#include "engine/threads.h"
#include "tools/commands.h"
#include "tools/timing.h"

namespace sl::tools {

namespace {

struct BenchOptions {
  int threads = 0;  // 0: all cores
  double budget = 2.0;
  std::string device = "cpu";
};

// "on cpu, 12 threads, <CPU model>, target avx2 (available: ...)", or "on <GPU name, arch, SMs, memory>". Asking for the backend first makes an
// unavailable CUDA fail here, with its reason, before any tensor is made.
std::string where(Device d) {
  backend(d);
#ifdef SHIFTLAB_WITH_CUDA
  if (d == Device::cuda) return "on " + cuda::device_description();
#endif
  return fmt::format("on cpu, {} threads, {}", num_threads(), cpu::cpu_description());
}

// Times fn followed by a device synchronisation.
Timing time_on(Backend& be, const std::function<void()>& fn, double budget) {
  return time_calls(
      [&] {
        fn();
        be.synchronize();
      },
      2, 7, budget);
}

void report(const char* what, double flops, const Timing& t) {
  fmt::print("{:<28} {:>9.3f} ms min {:>9.3f} ms median {:>8.1f} GFLOP/s (median) {:>8.1f} GFLOP/s (best)\n", what,
             t.ms_min, t.ms_median, flops / t.ms_median * 1e-6, flops / t.ms_min * 1e-6);
}

void bench_gemm(int64_t m, int64_t n, int64_t k, const BenchOptions& o) {
  ThreadLimit limit(o.threads);
  Device d = device_from_name(o.device);
  std::string on = where(d);
  Tensor a = randn({m, k}, DType::f32, d), b = randn({k, n}, DType::f32, d), c = zeros({m, n}, DType::f32, d);
  Backend& be = backend(d);
  Timing t = time_on(
      be,
      [&] {
        be.gemm(DType::f32, false, false, m, n, k, 1.0, a.raw_data(), k, 0, b.raw_data(), n, 0, 0.0, c.raw_data(), n,
                0, 1);
      },
      o.budget);
  fmt::print("gemm f32 {}x{}x{}, {}\n", m, n, k, on);
  report("gemm", 2.0 * static_cast<double>(m * n * k), t);
}

struct ConvShape {
  int64_t batch = 128, cin = 16, cout = 16, size = 32, kernel = 3, stride = 1, padding = 1, groups = 1;
  int64_t shift = 0;  // > 0: a 1x1 conv reading its input through ShiftResNet's shift of this kernel size
  std::vector<std::string> winograd{"on"};  // "off": the direct conv (CPU)
};

void bench_conv(const ConvShape& s, const BenchOptions& o) {
  ThreadLimit limit(o.threads);
  Device d = device_from_name(o.device);
  std::string on = where(d);
  Tensor x = randn({s.batch, s.cin, s.size, s.size}, DType::f32, d);
  Tensor w = randn({s.cout, s.cin / s.groups, s.kernel, s.kernel}, DType::f32, d);
  Conv2dArgs args;
  args.stride = {s.stride, s.stride};
  args.padding = {s.padding, s.padding};
  args.groups = s.groups;
  Tensor y = conv2d(x, w, Tensor(), args);
  double macs = static_cast<double>(y.numel()) * static_cast<double>(s.cin / s.groups * s.kernel * s.kernel);
  Conv2dParams p{s.batch, s.cin, s.size, s.size, s.cout, s.kernel, s.kernel, s.stride, s.stride,
                 s.padding, s.padding, 1, 1, s.groups, y.size(2), y.size(3)};
  Backend& be = backend(d);
  Tensor gx = empty_like(x), gw = empty_like(w);
  if (s.shift > 0) {
    SL_CHECK(s.kernel == 1 && s.padding == 0 && s.groups == 1 && s.shift % 2 == 1,
             "bench conv --shift {}: the shift kernel must be odd, and the conv 1x1 without padding or groups "
             "(give --kernel 1 --padding 0)",
             s.shift);
    fmt::print("shift_conv2d f32 x [{}, {}, {}, {}] w [{}, {}, 1, 1] shift {}x{} stride {}, {}\n", s.batch, s.cin,
               s.size, s.size, s.cout, s.cin, s.shift, s.shift, s.stride, on);
    report("forward", 2 * macs, time_on(be, [&] {
             be.shift_conv2d_forward(DType::f32, p, s.shift, 1, x.raw_data(), w.raw_data(), y.raw_data());
           }, o.budget));
    report("backward input", 2 * macs, time_on(be, [&] {
             be.shift_conv2d_backward_input(DType::f32, p, s.shift, 1, y.raw_data(), w.raw_data(), gx.raw_data());
           }, o.budget));
    report("backward weight", 2 * macs, time_on(be, [&] {
             be.shift_conv2d_backward_weight(DType::f32, p, s.shift, 1, x.raw_data(), y.raw_data(), gw.raw_data());
           }, o.budget));
    return;
  }
  fmt::print("conv2d f32 x [{}, {}, {}, {}] w [{}, {}, {}, {}] stride {} padding {} groups {}, {}\n", s.batch, s.cin,
             s.size, s.size, s.cout, s.cin / s.groups, s.kernel, s.kernel, s.stride, s.padding, s.groups, on);
  // GFLOP/s count the direct conv's multiply-adds, so the Winograd lines read as its speed-up.
  for (const std::string& winograd : s.winograd) {
    cpu::ScopedWinograd scope(winograd == "on");
    const bool applies = d == Device::cpu && cpu::winograd_applies(p);
    if (applies)
      fmt::print("Winograd F({0}x{0}, 3x3)\n", cpu::winograd_tile_size(p));
    else
      fmt::print("direct\n");
    report("forward", 2 * macs,
           time_on(be, [&] { be.conv2d_forward(DType::f32, p, x.raw_data(), w.raw_data(), y.raw_data()); }, o.budget));
    report("backward input", 2 * macs,
           time_on(be, [&] { be.conv2d_backward_input(DType::f32, p, y.raw_data(), w.raw_data(), gx.raw_data()); },
                   o.budget));
    report("backward weight", 2 * macs,
           time_on(be, [&] { be.conv2d_backward_weight(DType::f32, p, x.raw_data(), y.raw_data(), gw.raw_data()); },
                   o.budget));
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Measure kernel and training speed");
  bench->require_subcommand(1);
  add_bench_data_command(*bench);
  add_bench_train_command(*bench);
  add_bench_infer_command(*bench);
  add_bench_ops_command(*bench);
  auto opts = std::make_shared<BenchOptions>();
  auto add_common = [opts](CLI::App* cmd) {
    cmd->add_option("--threads", opts->threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--budget", opts->budget, "Seconds of timed work per measurement")->check(CLI::PositiveNumber);
    cmd->add_option("--device", opts->device, "Device to run on: cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  };

  auto* gemm = bench->add_subcommand("gemm", "Time the f32 GEMM C = A B (the CPU target's register tiles + oneTBB, or cuBLAS with --device cuda)");
  auto size = std::make_shared<std::array<int64_t, 3>>(std::array<int64_t, 3>{1024, 1024, 1024});
  gemm->add_option("--m", (*size)[0], "Rows of A and C")->check(CLI::PositiveNumber);
  gemm->add_option("--n", (*size)[1], "Columns of B and C")->check(CLI::PositiveNumber);
  gemm->add_option("--k", (*size)[2], "Columns of A, rows of B")->check(CLI::PositiveNumber);
  add_common(gemm);
  gemm->callback([opts, size] { bench_gemm((*size)[0], (*size)[1], (*size)[2], *opts); });

  auto* conv = bench->add_subcommand("conv", "Time a conv2d layer (default: ResNet-20 stage 1 at batch 128)");
  auto shape = std::make_shared<ConvShape>();
  conv->add_option("-b,--batch", shape->batch, "Batch size")->check(CLI::PositiveNumber);
  conv->add_option("--in-channels", shape->cin, "Input channels")->check(CLI::PositiveNumber);
  conv->add_option("--out-channels", shape->cout, "Output channels")->check(CLI::PositiveNumber);
  conv->add_option("--size", shape->size, "Input height and width")->check(CLI::PositiveNumber);
  conv->add_option("--kernel", shape->kernel, "Kernel size")->check(CLI::PositiveNumber);
  conv->add_option("--stride", shape->stride, "Stride")->check(CLI::PositiveNumber);
  conv->add_option("--padding", shape->padding, "Zero padding")->check(CLI::NonNegativeNumber);
  conv->add_option("--groups", shape->groups, "Groups")->check(CLI::PositiveNumber);
  conv->add_option("--shift", shape->shift,
                   "Time ShiftResNet's shifted 1x1 conv instead, with a shift of this (odd) kernel size")
      ->check(CLI::PositiveNumber);
  conv->add_option("--winograd", shape->winograd,
                   "on: 3x3 stride-1 convs by Winograd's F(4x4, 3x3) or F(2x2, 3x3) (the default); off: the direct "
                   "conv; 'on off' times both")
      ->check(CLI::IsMember({"on", "off"}))
      ->expected(1, 2);
  add_common(conv);
  conv->callback([opts, shape] { bench_conv(*shape, *opts); });
}

}  // namespace sl::tools
