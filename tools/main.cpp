// shiftlab: the command-line entry point. Errors from any layer surface here as one line on stderr
// and a non-zero exit status.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "backends/backend.h"
#include "backends/cpu/simd/target.h"
#include "engine/error.h"
#include "tools/commands.h"
#include "tools/did_you_mean.h"

int main(int argc, char** argv) {
  CLI::App app{"shiftlab: train, evaluate and benchmark shift networks (DeepShift, APoT, S3, DenseShift, ShiftResNet)"};
  app.set_version_flag("--version", [] {
    return fmt::format("shiftlab {}\nCPU: {}\nCUDA: {}", SHIFTLAB_VERSION, sl::cpu::cpu_description(),
                       sl::cuda_available() ? "available" : sl::cuda_unavailable_reason());
  });
  app.require_subcommand(1);
  int exit_code = 0;
  sl::tools::add_train_commands(app, exit_code);
  sl::tools::add_bench_command(app);
  sl::tools::add_count_command(app);
  sl::tools::add_quantize_command(app);
  sl::tools::add_convert_command(app);
  sl::tools::add_inspect_command(app);
  sl::tools::add_export_command(app);
  sl::tools::add_infer_command(app);
  sl::tools::add_report_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    std::string hint = status != 0 ? sl::tools::did_you_mean(app, argc, argv) : "";
    if (!hint.empty()) fmt::print(stderr, "shiftlab: {}\n", hint);
    return status;
  } catch (const sl::Error& e) {
    fmt::print(stderr, "shiftlab: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "shiftlab: unexpected error: {}\n", e.what());
    return 1;
  }
  return exit_code;
}
