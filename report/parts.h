// Building blocks the report's page is made of (report/html.cpp, report/run_section.cpp): numbers read
// leniently from JSON rows, table cells tagged with their source, figures.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "report/svg.h"

namespace sl::report {

// row[key] when it is a number.
std::optional<double> number(const nlohmann::json& row, const std::string& key);
// The numbers of a JSON array (other elements and non-arrays give nothing).
std::vector<double> numbers(const nlohmann::json& v);
// A string as itself, anything else as JSON text.
std::string text_of(const nlohmann::json& v);

// A table cell showing a number read from a run's file, tagged with where it came from so the
// browser test can compare it with the file.
struct Cell {
  std::string src;  // "metrics" | "stats"
  size_t run = 0;
  std::optional<int64_t> epoch;
  std::string layer, key;
  double scale = 1;
  std::string agg;  // "" or "sum" (over every row of the run)
};
// <td> with the value times c.scale printed by `format` ("–" when there is no value).
std::string number_cell(const Cell& c, std::optional<double> v, const char* format);

std::string figure(const std::string& svg, const std::string& caption);
// True when some series has a value the chart can draw (charts without one are left out).
bool has_values(const LineChart& c);

}  // namespace sl::report
