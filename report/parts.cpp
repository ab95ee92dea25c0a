#include "report/parts.h"

#include <fmt/format.h>

#include <cmath>

namespace sl::report {

using nlohmann::json;

std::optional<double> number(const json& row, const std::string& key) {
  auto it = row.find(key);
  if (it == row.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::vector<double> numbers(const json& v) {
  std::vector<double> out;
  if (v.is_array())
    for (const json& e : v)
      if (e.is_number()) out.push_back(e.get<double>());
  return out;
}

std::string text_of(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string number_cell(const Cell& c, std::optional<double> v, const char* format) {
  if (!v) return "<td class=\"num\">–</td>";
  std::string attrs = fmt::format(R"( data-src="{}" data-run="{}" data-key="{}")", c.src, c.run, escape(c.key));
  if (c.epoch) attrs += fmt::format(R"( data-epoch="{}")", *c.epoch);
  if (!c.layer.empty()) attrs += fmt::format(R"( data-layer="{}")", escape(c.layer));
  if (c.scale != 1) attrs += fmt::format(R"( data-scale="{}")", c.scale);
  if (!c.agg.empty()) attrs += fmt::format(R"( data-agg="{}")", c.agg);
  return fmt::format("<td class=\"num\"{}>{}</td>", attrs, fmt::format(fmt::runtime(format), *v * c.scale));
}

std::string figure(const std::string& svg, const std::string& caption) {
  return "<figure>" + svg + (caption.empty() ? "" : "<figcaption>" + escape(caption) + "</figcaption>") + "</figure>\n";
}

bool has_values(const LineChart& c) {
  for (const Series& s : c.series)
    for (const auto& y : s.y)
      if (y && std::isfinite(*y) && (!c.log_y || *y > 0)) return true;
  return false;
}

}  // namespace sl::report
