#include "report/html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "engine/error.h"
#include "engine/file_io.h"
#include "report/svg.h"

namespace sl::report {

namespace {

using nlohmann::json;

std::optional<double> number(const json& row, const std::string& key) {
  auto it = row.find(key);
  if (it == row.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// The numbers of a JSON array (other elements and non-arrays give nothing).
std::vector<double> numbers(const json& v) {
  std::vector<double> out;
  if (v.is_array())
    for (const json& e : v)
      if (e.is_number()) out.push_back(e.get<double>());
  return out;
}

std::string text_of(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

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

// ---- one run's layer statistics ----

struct LayerRows {
  std::string method;
  std::vector<const json*> rows;  // in epoch order
};

// Layers in the order the stats file first names them.
std::vector<std::pair<std::string, LayerRows>> layers_of(const RunData& run) {
  std::vector<std::pair<std::string, LayerRows>> out;
  std::map<std::string, size_t> where;
  for (const json& r : run.stats) {
    std::string name = r["layer"].get<std::string>();
    auto it = where.find(name);
    if (it == where.end()) {
      where[name] = out.size();
      out.push_back({name, LayerRows{r["method"].get<std::string>(), {}}});
      it = where.find(name);
    }
    out[it->second].second.rows.push_back(&r);
  }
  return out;
}

// One line per layer of a per-layer quantity over epochs; `quantized` keeps only quantized layers.
LineChart layer_chart(const std::vector<std::pair<std::string, LayerRows>>& layers, const std::string& title,
                      const std::string& y_label, bool quantized, const std::function<std::optional<double>(const json&)>& get) {
  LineChart c;
  c.title = title;
  c.x_label = "epoch";
  c.y_label = y_label;
  int colour = 0;
  for (const auto& [name, lr] : layers) {
    if (quantized && lr.method == "fp32") continue;
    Series s;
    s.name = name;
    s.color = colour++;
    for (const json* r : lr.rows) {
      s.x.push_back((*r)["epoch"].get<double>());
      s.y.push_back(get(*r));
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

std::function<std::optional<double>(const json&)> key_of(const std::string& key, double scale = 1) {
  return [key, scale](const json& r) -> std::optional<double> {
    auto v = number(r, key);
    if (v) *v *= scale;
    return v;
  };
}

std::function<std::optional<double>(const json&)> family_key(const std::string& key) {
  return [key](const json& r) -> std::optional<double> {
    auto f = r.find("family");
    return f != r.end() && f->is_object() ? number(*f, key) : std::nullopt;
  };
}

std::string level_label(double v) {
  if (v == 0) return "0";
  double e = std::log2(std::abs(v));
  if (std::abs(e - std::round(e)) < 1e-9) return fmt::format("{}2^{}", v < 0 ? "-" : "+", static_cast<int>(std::round(e)));
  return (v > 0 ? "+" : "") + short_number(v);
}

// Rows of the heatmap: every level any epoch used (a level set can change: APoT's 8-bit layers follow
// their largest weight), at most kMaxRows of them, neighbours merged beyond that.
constexpr size_t kMaxRows = 64;

std::string heatmaps(const std::vector<std::pair<std::string, LayerRows>>& layers) {
  std::string out;
  for (const auto& [name, lr] : layers) {
    if (lr.method == "fp32" || lr.rows.empty()) continue;
    std::set<double> all;
    for (const json* r : lr.rows)
      if (r->contains("levels"))
        for (double v : numbers((*r)["levels"])) all.insert(v);
    if (all.empty()) continue;
    std::vector<double> levels(all.begin(), all.end());
    const size_t group = (levels.size() + kMaxRows - 1) / kMaxRows, rows = (levels.size() + group - 1) / group;
    Heatmap m;
    m.title = fmt::format("{} ({}): share of weights on each level (units of the scale)", name, lr.method);
    m.x_label = group > 1 ? fmt::format("epoch ({} neighbouring levels per row)", group) : "epoch";
    for (size_t row = rows; row-- > 0;) m.row_labels.push_back(level_label(levels[row * group]));
    m.values.assign(rows, {});
    for (const json* r : lr.rows) {
      m.col_labels.push_back(std::to_string((*r)["epoch"].get<int64_t>()));
      std::vector<double> row_levels = r->contains("levels") ? numbers((*r)["levels"]) : std::vector<double>();
      std::vector<double> counts = r->contains("counts") ? numbers((*r)["counts"]) : std::vector<double>();
      const double n = number(*r, "weights").value_or(0);
      std::vector<double> share(rows, 0);
      for (size_t k = 0; k < row_levels.size() && k < counts.size(); ++k) {
        size_t at = static_cast<size_t>(std::lower_bound(levels.begin(), levels.end(), row_levels[k]) - levels.begin());
        if (n > 0) share[at / group] += counts[k] / n;
      }
      for (size_t row = 0; row < rows; ++row) m.values[rows - 1 - row].push_back(share[row]);
    }
    out += figure(svg_heatmap(m), "");
  }
  return out;
}

std::string histograms(const RunData& run, const std::vector<std::pair<std::string, LayerRows>>& layers, size_t run_index) {
  std::string out;
  for (const auto& [name, lr] : layers) {
    const json& last = *lr.rows.back();
    auto h = last.find("weight_hist");
    if (h == last.end() || !h->is_object() || !h->contains("counts")) continue;
    Histogram hg;
    hg.title = fmt::format("{} ({}), epoch {}", name, lr.method, last["epoch"].get<int64_t>());
    hg.lo = number(*h, "lo").value_or(-1);
    hg.hi = number(*h, "hi").value_or(1);
    hg.counts = numbers((*h)["counts"]);
    hg.color = static_cast<int>(run_index);
    out += figure(svg_histogram(hg), "");
  }
  (void)run;
  return out.empty() ? "" : "<h3>Effective weight values at the last epoch</h3>\n<div class=\"grid\">" + out + "</div>\n";
}

// The final per-layer table: what `shiftlab inspect` prints, from the last stats row of each layer.
std::string layer_table(const std::vector<std::pair<std::string, LayerRows>>& layers, size_t run_index) {
  std::string out =
      "<table class=\"layers\"><thead><tr><th>layer</th><th>method</th><th>bits</th><th>weights</th><th>scale</th>"
      "<th>levels used</th><th>zeros %</th><th>at clip %</th><th>at smallest %</th><th>sign flips %</th>"
      "<th>level changes %</th><th>exponents</th><th>latent distance</th><th>family</th><th>weight norm</th>"
      "<th>grad norm</th></tr></thead><tbody>\n";
  for (const auto& [name, lr] : layers) {
    const json& r = *lr.rows.back();
    Cell c{"stats", run_index, r["epoch"].get<int64_t>(), name, "", 1, ""};
    auto cell = [&](const std::string& key, const char* format, double scale = 1) {
      Cell k = c;
      k.key = key;
      k.scale = scale;
      return number_cell(k, number(r, key), format);
    };
    std::string used = "–";
    if (r.contains("levels") && r["levels"].is_array())
      used = fmt::format("{} of {}", number(r, "levels_used").value_or(0), r["levels"].size());
    std::string exps = "–";
    if (number(r, "exp_min") && number(r, "exp_max"))
      exps = fmt::format("{} .. {}", r["exp_min"].get<int>(), r["exp_max"].get<int>());
    std::string family;
    if (auto f = r.find("family"); f != r.end() && f->is_object())
      for (auto it = f->begin(); it != f->end(); ++it)
        family += fmt::format("{}{} {}", family.empty() ? "" : ", ", it.key(),
                              it->is_number() ? short_number(it->get<double>()) : it->dump());
    out += fmt::format("<tr><td>{}</td><td>{}</td>", escape(name), escape(lr.method));
    out += cell("bits", "{:.0f}") + cell("weights", "{:.0f}") + cell("scale", "{:.4g}");
    out += fmt::format("<td>{}</td>", used);
    out += cell("zero_frac", "{:.2f}", 100) + cell("clip_frac", "{:.2f}", 100) + cell("min_level_frac", "{:.2f}", 100) +
           cell("sign_flip_frac", "{:.2f}", 100) + cell("level_change_frac", "{:.2f}", 100);
    out += fmt::format("<td>{}</td>", exps);
    out += cell("latent_distance", "{:.4g}");
    out += fmt::format("<td class=\"family\">{}</td>", escape(family.empty() ? "–" : family));
    out += cell("weight_norm", "{:.4g}") + cell("grad_norm", "{:.4g}") + "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

std::string config_table(const RunData& run) {
  if (run.config.empty()) return "<p>No config.json in this run directory.</p>\n";
  std::string out = "<table class=\"config\"><tbody>\n";
  for (auto it = run.config.begin(); it != run.config.end(); ++it)
    out += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", escape(it.key()), escape(text_of(it.value())));
  return out + "</tbody></table>\n";
}

std::string run_section(const RunData& run, size_t run_index) {
  std::string out = fmt::format("<section class=\"run\" id=\"run-{0}\"><a id=\"only-run-{0}\"></a><h2>Run {1}: {2}</h2>\n"
                                "<p class=\"path\">{3}</p>\n",
                                run_index, run_index + 1, escape(run.name), escape(run.dir));
  auto layers = layers_of(run);
  if (layers.empty()) {
    out += "<p>This run has no stats.jsonl (trained with --no-stats, or by an older shiftlab): no layer statistics.</p>\n";
  } else {
    bool quantized = std::any_of(layers.begin(), layers.end(), [](const auto& l) { return l.second.method != "fp32"; });
    std::string charts;
    auto add = [&](const LineChart& c, const std::string& caption = "") {
      if (has_values(c)) charts += figure(svg_line_chart(c), caption);
    };
    if (quantized) {
      out += "<h3>Level usage per layer</h3>\n<div class=\"grid\">" + heatmaps(layers) + "</div>\n";
      add(layer_chart(layers, "Sign flips since the previous epoch", "% of weights", true, key_of("sign_flip_frac", 100)),
          "Weights whose sign changed (non-zero both times); epoch 0 counts from the initial weights.");
      add(layer_chart(layers, "Level changes since the previous epoch", "% of weights", true, key_of("level_change_frac", 100)));
      add(layer_chart(layers, "Zero weights", "% of weights", true, key_of("zero_frac", 100)));
      add(layer_chart(layers, "At the clip (largest level)", "% of weights", true, key_of("clip_frac", 100)));
      add(layer_chart(layers, "At the smallest non-zero level", "% of weights", true, key_of("min_level_frac", 100)));
      add(layer_chart(layers, "Latent vs effective weight", "relative L2 distance", true, key_of("latent_distance")),
          "||W_effective - W_continuous|| / ||W_continuous|| (APoT in normalised units).");
      LineChart exps = layer_chart(layers, "Exponent range used (solid max, dashed min)", "log2 |level|", true, key_of("exp_max"));
      LineChart mins = layer_chart(layers, "", "", true, key_of("exp_min"));
      for (Series& s : mins.series) {
        s.dashed = true;
        s.name += " min";
        exps.series.push_back(s);
      }
      add(exps);
      // Every scalar the families record (APoT alpha, PS P/S ranges, S3 sparsity, DenseShift scale...).
      std::set<std::string> keys;
      for (const json& r : run.stats)
        if (auto f = r.find("family"); f != r.end() && f->is_object())
          for (auto it = f->begin(); it != f->end(); ++it)
            if (it->is_number()) keys.insert(it.key());
      for (const std::string& k : keys) add(layer_chart(layers, "Family quantity: " + k, k, true, family_key(k)));
    }
    add(layer_chart(layers, "Weight norm (effective weight)", "L2 norm", false, key_of("weight_norm")));
    LineChart g = layer_chart(layers, "Gradient norm (last step of the epoch)", "L2 norm", false, key_of("grad_norm"));
    g.log_y = true;
    add(g);
    out += "<h3>Per-layer curves</h3>\n<div class=\"grid\">" + charts + "</div>\n";
    out += histograms(run, layers, run_index);
    out += "<h3>Layers at the last epoch</h3>\n" + layer_table(layers, run_index);
  }
  out += "<h3>Config</h3>\n" + config_table(run);
  return out + "</section>\n";
}

// ---- runs side by side ----

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
