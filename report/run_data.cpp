#include "report/run_data.h"

#include <filesystem>

#include "engine/error.h"
#include "engine/file_io.h"

namespace sl::report {

namespace fs = std::filesystem;

std::vector<nlohmann::json> read_jsonl(const std::string& path, const std::vector<std::string>& required) {
  std::vector<char> bytes = read_file(path);
  std::vector<nlohmann::json> rows;
  size_t line_no = 0, start = 0;
  while (start < bytes.size()) {
    size_t end = start;
    while (end < bytes.size() && bytes[end] != '\n') ++end;
    ++line_no;
    std::string line(bytes.begin() + static_cast<std::ptrdiff_t>(start), bytes.begin() + static_cast<std::ptrdiff_t>(end));
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail("{}:{}: not valid JSON: {}", path, line_no, e.what());
    }
    SL_CHECK(row.is_object(), "{}:{}: each line must be a JSON object", path, line_no);
    for (const std::string& key : required)
      SL_CHECK(row.contains(key), "{}:{}: the row has no '{}'", path, line_no, key);
    rows.push_back(std::move(row));
  }
  return rows;
}

RunData load_run(const std::string& dir) {
  SL_CHECK(fs::is_directory(dir), "{}: not a run directory (it does not exist or is not a directory)", dir);
  RunData run;
  run.dir = dir;
  fs::path p = fs::path(dir).lexically_normal();
  run.name = p.filename().empty() ? p.parent_path().filename().string() : p.filename().string();
  fs::path metrics = p / "metrics.jsonl", stats = p / "stats.jsonl", config = p / "config.json";
  SL_CHECK(fs::exists(metrics), "{}: no metrics.jsonl (not a shiftlab run directory, or no epoch finished yet)", dir);
  run.metrics = read_jsonl(metrics.string(), {"epoch", "train_loss", "test_loss", "train_acc1", "test_acc1", "lr"});
  SL_CHECK(!run.metrics.empty(), "{}: no epoch recorded", metrics.string());
  for (size_t i = 0; i < run.metrics.size(); ++i)
    for (const char* key : {"epoch", "train_loss", "test_loss", "train_acc1", "test_acc1", "lr"})
      SL_CHECK(run.metrics[i][key].is_number(), "{}: row {} ('epoch' {}): '{}' must be a number, got {}", metrics.string(),
               i + 1, run.metrics[i]["epoch"].dump(), key, run.metrics[i][key].dump());
  if (fs::exists(stats)) {
    run.stats = read_jsonl(stats.string(), {"epoch", "layer", "method"});
    for (size_t i = 0; i < run.stats.size(); ++i) {
      const nlohmann::json& r = run.stats[i];
      SL_CHECK(r["epoch"].is_number_integer() && r["layer"].is_string() && r["method"].is_string(),
               "{}: row {}: 'epoch' must be an integer and 'layer', 'method' strings", stats.string(), i + 1);
    }
  }
  run.config = nlohmann::ordered_json::object();
  if (fs::exists(config)) {
    std::vector<char> bytes = read_file(config.string());
    try {
      run.config = nlohmann::ordered_json::parse(bytes.begin(), bytes.end());
    } catch (const nlohmann::json::exception& e) {
      fail("{}: not valid JSON: {}", config.string(), e.what());
    }
    SL_CHECK(run.config.is_object(), "{}: must be a JSON object", config.string());
  }
  return run;
}

}  // namespace sl::report
