// shiftlab: the command-line entry point. Errors from any layer surface here as one line on stderr
// and a non-zero exit status. Under mpirun, only rank 0 prints to stdout, and an error on any rank
// ends every rank (MPI_Abort) instead of leaving the others waiting in a collective.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "backends/backend.h"
#include "backends/cpu/simd/target.h"
#include "dist/communicator.h"
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
  // "" for one process, " (rank 1 of 2)" for a rank of a data-parallel run.
  std::string rank_tag;
  auto fail_exit = [&](const char* kind, const char* what) {
    fmt::print(stderr, "shiftlab: {}{}: {}\n", kind, rank_tag, what);
    std::fflush(stderr);
    if (!rank_tag.empty()) sl::dist::world().abort(1);
    return 1;
  };
  try {
    if (sl::dist::launched_as_rank()) {
      sl::dist::Communicator& comm = sl::dist::world();
      if (comm.size() > 1) {
        rank_tag = fmt::format(" (rank {} of {})", comm.rank(), comm.size());
        if (comm.rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr) return 1;
      }
    }
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    std::string hint = status != 0 ? sl::tools::did_you_mean(app, argc, argv) : "";
    if (!hint.empty()) fmt::print(stderr, "shiftlab: {}\n", hint);
    return status;
  } catch (const sl::Error& e) {
    return fail_exit("error", e.what());
  } catch (const std::exception& e) {
    return fail_exit("unexpected error", e.what());
  }
  return exit_code;
}
