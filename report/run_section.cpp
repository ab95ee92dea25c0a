#include "report/run_section.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "report/parts.h"
#include "report/svg.h"

namespace sl::report {

namespace {

using nlohmann::json;

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

std::string histograms(const std::vector<std::pair<std::string, LayerRows>>& layers, size_t run_index) {
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

}  // namespace

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
    out += histograms(layers, run_index);
    out += "<h3>Layers at the last epoch</h3>\n" + layer_table(layers, run_index);
  }
  out += "<h3>Config</h3>\n" + config_table(run);
  return out + "</section>\n";
}

}  // namespace sl::report
