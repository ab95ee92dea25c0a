// A run directory as the report reads it: config.json, metrics.jsonl (required) and stats.jsonl
// (optional: --no-stats runs have none). Every problem is one error naming the file (and line).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace sl::report {

struct RunData {
  std::string dir;
  std::string name;                     // the directory's last component
  nlohmann::ordered_json config;        // empty object when config.json is absent
  std::vector<nlohmann::json> metrics;  // one object per epoch, in file order
  std::vector<nlohmann::json> stats;    // one object per epoch and weight layer
};

RunData load_run(const std::string& dir);

// Parses a JSON-lines file: one object per non-empty line; `required` lists keys every row must have.
std::vector<nlohmann::json> read_jsonl(const std::string& path, const std::vector<std::string>& required);

}  // namespace sl::report
