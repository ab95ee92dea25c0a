#include "report/html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "engine/error.h"
#include "engine/file_io.h"
#include "report/parts.h"
#include "report/run_section.h"
#include "report/svg.h"

namespace sl::report {

namespace {

using nlohmann::json;

std::string comparison_table(const std::vector<RunData>& runs) {
  std::string out =
      "<table class=\"runs\" id=\"runs\"><thead><tr><th>#</th><th>run</th><th>arch</th><th>quant</th><th>weight bits</th>"
      "<th>optimizer</th><th>epochs</th><th>test acc@1 %</th><th>best acc@1 %</th><th>test loss</th><th>train loss</th>"
      "<th>train acc@1 %</th><th>seconds</th><th>stats seconds</th></tr></thead><tbody>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& r = runs[i];
    const json& last = r.metrics.back();
    int64_t epoch = last["epoch"].get<int64_t>();
    auto cfg = [&](const char* key) { return r.config.contains(key) ? escape(text_of(r.config[key])) : std::string("–"); };
    auto cell = [&](const std::string& key, const char* format) {
      return number_cell(Cell{"metrics", i, epoch, "", key, 1, ""}, number(last, key), format);
    };
    auto total = [&](const std::string& key) {
      std::optional<double> s;
      for (const json& m : r.metrics)
        if (auto v = number(m, key)) s = s.value_or(0) + *v;
      return number_cell(Cell{"metrics", i, std::nullopt, "", key, 1, "sum"}, s, "{:.2f}");
    };
    out += fmt::format("<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                       "<td>{}</td><td>{}</td><td>{}</td>",
                       palette(static_cast<int>(i)), i + 1, escape(r.name), cfg("arch"), cfg("quant"), cfg("weight_bits"),
                       cfg("optimizer"), r.metrics.size());
    out += cell("test_acc1", "{:.2f}") + cell("best_acc1", "{:.2f}") + cell("test_loss", "{:.4f}") +
           cell("train_loss", "{:.4f}") + cell("train_acc1", "{:.2f}") + total("seconds") + total("stats_seconds") + "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

LineChart metric_chart(const std::vector<RunData>& runs, const std::string& title, const std::string& y_label,
                       const std::vector<std::pair<std::string, std::string>>& keys) {
  LineChart c;
  c.title = title;
  c.x_label = "epoch";
  c.y_label = y_label;
  for (size_t i = 0; i < runs.size(); ++i)
    for (const auto& [key, label] : keys) {
      Series s;
      s.name = (runs.size() > 1 ? runs[i].name + " " : "") + label;
      s.color = static_cast<int>(i);
      s.dashed = key.rfind("train", 0) == 0;
      for (const json& m : runs[i].metrics) {
        s.x.push_back(m["epoch"].get<double>());
        s.y.push_back(number(m, key));
      }
      c.series.push_back(std::move(s));
    }
  return c;
}

// The same layer in several runs: its weight-value distributions overlaid (an FP32 run against its
// quantized twins).
std::string compared_distributions(const std::vector<RunData>& runs) {
  std::map<std::string, std::vector<std::pair<size_t, const json*>>> by_layer;
  std::vector<std::string> order;
  for (size_t i = 0; i < runs.size(); ++i) {
    std::map<std::string, const json*> last;
    for (const json& r : runs[i].stats) last[r["layer"].get<std::string>()] = &r;
    for (const auto& [name, row] : last) {
      if (!by_layer.count(name)) order.push_back(name);
      by_layer[name].push_back({i, row});
    }
  }
  std::string out;
  for (const std::string& name : order) {
    const auto& entries = by_layer[name];
    if (entries.size() < 2) continue;
    LineChart c;
    c.title = name + ": effective weight distribution, last epoch";
    c.x_label = "weight value";
    c.y_label = "density";
    for (const auto& [i, row] : entries) {
      auto h = row->find("weight_hist");
      if (h == row->end() || !h->is_object() || !h->contains("counts")) continue;
      std::vector<double> counts = numbers((*h)["counts"]);
      double lo = number(*h, "lo").value_or(-1), hi = number(*h, "hi").value_or(1), n = 0;
      for (double v : counts) n += v;
      double width = (hi - lo) / static_cast<double>(std::max<size_t>(counts.size(), 1));
      Series s;
      s.name = runs[i].name + " (" + (*row)["method"].get<std::string>() + ")";
      s.color = static_cast<int>(i);
      for (size_t b = 0; b < counts.size(); ++b) {
        s.x.push_back(lo + width * (static_cast<double>(b) + 0.5));
        s.y.push_back(n > 0 && width > 0 ? counts[b] / (n * width) : 0);
      }
      c.series.push_back(std::move(s));
    }
    if (c.series.size() >= 2 && has_values(c)) out += figure(svg_line_chart(c), "");
  }
  return out.empty() ? "" : "<h3>Weight distributions compared</h3>\n<div class=\"grid\">" + out + "</div>\n";
}

const char* kStyle = R"(
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 1.5em auto; padding: 0 1em; max-width: 1320px; color: #222; font-size: 14px; }
h1 { font-size: 1.6em; } h2 { border-bottom: 2px solid #ccc; padding-bottom: .2em; margin-top: 2em; } h3 { margin-top: 1.4em; }
.path { color: #666; font-family: monospace; }
table { border-collapse: collapse; margin: .5em 0; font-size: 12.5px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.family { max-width: 320px; font-size: 11.5px; }
table.config th { font-weight: normal; color: #555; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 4px; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: 11.5px; color: #555; max-width: 600px; }
svg.plot { background: #fff; }
svg .title { font-size: 12.5px; font-weight: bold; text-anchor: middle; }
svg .xtick { font-size: 10px; text-anchor: middle; fill: #444; } svg .ytick { font-size: 10px; text-anchor: end; fill: #444; }
svg .xlabel, svg .ylabel { font-size: 11px; text-anchor: middle; fill: #333; }
svg .legend { font-size: 10.5px; fill: #222; } svg .empty { font-size: 12px; fill: #999; text-anchor: middle; }
svg .frame { fill: none; stroke: #999; } svg .gridline { stroke: #e5e5e5; } svg .axis { stroke: #999; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
#selfcheck { display: none; }
@media print { body { max-width: none; margin: 0; } section.run { page-break-before: always; } }
)";

// Runs first: records uncaught errors and console.error calls so the page can report them.
const char* kErrorHook = R"(<script>
window.__reportErrors = [];
window.addEventListener('error', function (e) { window.__reportErrors.push(String(e.message || e)); });
(function () { var original = console.error; console.error = function () {
  window.__reportErrors.push(Array.prototype.join.call(arguments, ' ')); original.apply(console, arguments); }; })();
</script>)";

// Runs after load: counts the plots and those with a visible data mark, and writes the result.
const char* kSelfCheck = R"(<script>
window.addEventListener('load', function () {
  var plots = document.querySelectorAll('svg.plot'), drawn = 0, empty = [];
  plots.forEach(function (svg) {
    var ok = false;
    svg.querySelectorAll('.mark').forEach(function (m) { var b = m.getBBox(); if (b.width > 0 || b.height > 0) ok = true; });
    if (ok) drawn++; else empty.push(svg.getAttribute('aria-label'));
  });
  var out = document.getElementById('selfcheck');
  out.textContent = JSON.stringify({ errors: window.__reportErrors, plots: plots.length, drawn: drawn, empty: empty,
                                     cells: document.querySelectorAll('td[data-key]').length });
});
</script>)";
}  // namespace

std::string render_report(const std::vector<RunData>& runs) {
  SL_CHECK(!runs.empty(), "report: no run given");
  std::string names;
  for (const RunData& r : runs) names += (names.empty() ? "" : ", ") + r.name;
  // REPORT.html#only-run-N shows run N's section alone (for screenshots and focused reading).
  std::string focus;
  for (size_t i = 0; i < runs.size(); ++i)
    focus += fmt::format("body:has(#only-run-{0}:target) > :not(#run-{0}) {{ display: none; }}\n", i);
  std::string out = fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>shiftlab report: {}</title>\n"
                                "<style>{}{}</style>\n{}\n</head><body>\n<h1>shiftlab report: {}</h1>\n",
                                escape(names), kStyle, focus, kErrorHook, escape(names));
  out += "<h2>Runs</h2>\n" + comparison_table(runs);
  std::string curves;
  curves += figure(svg_line_chart(metric_chart(runs, "Loss", "cross-entropy", {{"train_loss", "train"}, {"test_loss", "test"}})),
                   "Dashed: training (average over the epoch); solid: test.");
  curves += figure(svg_line_chart(metric_chart(runs, "Accuracy", "acc@1 %", {{"train_acc1", "train"}, {"test_acc1", "test"}})), "");
  curves += figure(svg_line_chart(metric_chart(runs, "Learning rate", "lr", {{"lr", "lr"}})), "");
  out += "<h2>Training curves</h2>\n<div class=\"grid\">" + curves + "</div>\n";
  if (runs.size() > 1) out += compared_distributions(runs);
  for (size_t i = 0; i < runs.size(); ++i) out += run_section(runs[i], i);
  out += "<pre id=\"selfcheck\"></pre>\n" + std::string(kSelfCheck) + "\n</body></html>\n";
  return out;
}

int write_report(const std::vector<std::string>& run_dirs, const std::string& out) {
  std::vector<RunData> runs;
  for (const std::string& d : run_dirs) runs.push_back(load_run(d));
  std::string html = render_report(runs);
  write_file_atomic(out, html);
  int plots = 0;
  for (size_t p = html.find("<svg class=\"plot\""); p != std::string::npos; p = html.find("<svg class=\"plot\"", p + 1)) ++plots;
  return plots;
}

}  // namespace sl::report
