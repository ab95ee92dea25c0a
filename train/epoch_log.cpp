#include "train/epoch_log.h"

#include <nlohmann/json.hpp>

#include "engine/file_io.h"
#include "engine/json_guard.h"

namespace sl {

namespace {
// The row's epoch, or -1 when the line is not a row this code wrote.
int64_t epoch_of(const std::string& line) {
  try {
    check_json_depth(line, 4, "row");
    nlohmann::json row = nlohmann::json::parse(line);
    if (row.is_object() && row.contains("epoch") && row["epoch"].is_number_integer()) return row["epoch"].get<int64_t>();
  } catch (const std::exception&) {
  }
  return -1;
}
}  // namespace

int64_t keep_epochs_before(const std::string& path, int64_t epoch) {
  if (!is_regular_file(path)) return 0;
  std::vector<char> bytes = read_file(path);
  std::string kept;
  int64_t dropped = 0;
  size_t start = 0;
  while (start < bytes.size()) {
    size_t end = start;
    while (end < bytes.size() && bytes[end] != '\n') ++end;
    std::string line(bytes.data() + start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    int64_t e = epoch_of(line);
    if (e >= 0 && e < epoch) kept += line + "\n";
    else ++dropped;
  }
  if (dropped > 0) write_file_atomic(path, kept);
  return dropped;
}

}  // namespace sl
