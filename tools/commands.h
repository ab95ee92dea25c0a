// Each subcommand of the shiftlab CLI registers itself on the root app.
#pragma once
#include <CLI/CLI.hpp>

namespace sl::tools {

void add_bench_command(CLI::App& app);
void add_count_command(CLI::App& app);
void add_quantize_command(CLI::App& app);

}  // namespace sl::tools
