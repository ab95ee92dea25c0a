// Each subcommand of the shiftlab CLI registers itself on the root app.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace sl::tools {

void add_bench_command(CLI::App& app);
// `bench data` (tools/bench_data.cpp), registered by add_bench_command.
void add_bench_data_command(CLI::App& bench);
// `bench train` (tools/bench_train.cpp), registered by add_bench_command.
void add_bench_train_command(CLI::App& bench);
// `bench infer` (tools/bench_infer.cpp), registered by add_bench_command.
void add_bench_infer_command(CLI::App& bench);
// `bench ops` (tools/bench_ops.cpp), registered by add_bench_command.
void add_bench_ops_command(CLI::App& bench);
void add_count_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_infer_command(CLI::App& app);
// `report` (tools/report.cpp); `train --report` writes through the same path.
void add_report_command(CLI::App& app);
void print_report_written(const std::string& path, int plots);
// `train` and `eval` (tools/train.cpp); their callbacks store the process exit status.
void add_train_commands(CLI::App& app, int& exit_code);

}  // namespace sl::tools
