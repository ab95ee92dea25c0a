// `shiftlab report RUN_DIR... [-o report.html]`: one self-contained HTML file (report/html.h).
// One run writes RUN_DIR/report.html by default; several runs write ./report.html.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "report/html.h"
#include "tools/commands.h"

namespace sl::tools {

std::string default_report_path(const std::vector<std::string>& run_dirs) {
  if (run_dirs.size() == 1) return (std::filesystem::path(run_dirs[0]) / "report.html").string();
  return "report.html";
}

void print_report_written(const std::string& path, int plots) {
  fmt::print("report: wrote {} ({} plots); open it in a browser (it needs no network)\n", path, plots);
}

void add_report_command(CLI::App& app) {
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("report", "Write an HTML report (curves, level heatmaps, layer tables) of one or more runs");
  cmd->add_option("run_dirs", *dirs, "Run directories (with metrics.jsonl, and stats.jsonl unless --no-stats)")->required();
  cmd->add_option("-o,--output", *out, "Output file (default: RUN_DIR/report.html for one run, ./report.html for several)");
  cmd->callback([dirs, out] {
    std::string path = out->empty() ? default_report_path(*dirs) : *out;
    print_report_written(path, report::write_report(*dirs, path));
  });
}

}  // namespace sl::tools
