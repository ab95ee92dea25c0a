// The HTML report without a browser: what the page holds for a hand-written run directory, and one
// clear error per kind of bad input (test/report_browser_test.py renders real runs in Chromium).
#include <filesystem>

#include "engine/file_io.h"
#include "helpers.h"
#include "report/html.h"

using namespace sl;
using sl::test::error_of;
using sl::test::TempDir;

namespace {

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t p = text.find(part); p != std::string::npos; p = text.find(part, p + 1)) ++n;
  return n;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void write_run(const std::string& dir) {
  std::filesystem::create_directories(dir);
  write_file_atomic(dir + "/config.json", R"({"arch": "mnist-fc", "quant": "deepshift-ps", "weight_bits": 3})");
  write_file_atomic(dir + "/metrics.jsonl",
                    R"({"epoch": 0, "lr": 0.01, "train_loss": 1.5, "train_acc1": 50, "test_loss": 1.25, "test_acc1": 60.5, "best_acc1": 60.5, "seconds": 2, "stats_seconds": 0.01})"
                    "\n"
                    R"({"epoch": 1, "lr": 0.005, "train_loss": 1.0, "train_acc1": 70, "test_loss": 0.875, "test_acc1": 72.25, "best_acc1": 72.25, "seconds": 3, "stats_seconds": 0.02})"
                    "\n");
  std::string stats;
  for (int e = 0; e < 2; ++e)
    stats += fmt::format(
        R"({{"epoch": {0}, "layer": "fc1", "method": "deepshift-ps", "bits": 3, "weights": 4, "scale": 1, "levels": [-1, 0, 1], "counts": [1, {1}, {2}], "levels_used": 3, "zero_frac": {3}, "sign_flip_frac": 0.25, "level_change_frac": 0.5, "clip_frac": 0.5, "min_level_frac": 0.5, "exp_min": 0, "exp_max": 0, "latent_distance": 0.125, "family": {{"p_min": -2, "p_max": 0}}, "weight_norm": 1.5, "latent_norm": null, "grad_norm": 0.03125, "weight_hist": {{"lo": -1, "hi": 1, "counts": [1, 0, 2, 1]}}}})"
        "\n",
        e, 2 - e, 1 + e, (2 - e) / 4.0);
  write_file_atomic(dir + "/stats.jsonl", stats);
}

}  // namespace

TEST_CASE("report: one self-contained page with curves, heatmaps and tables tagged with their source", "[report]") {
  TempDir tmp("report");
  write_run(tmp.file("a"));
  std::string html = report::render_report({report::load_run(tmp.file("a"))});
  CHECK(has(html, "<h1>shiftlab report: a</h1>"));
  CHECK(!has(html, "https://"));  // nothing fetched (the SVG namespace is http://www.w3.org/2000/svg)
  CHECK(!has(html, "<link"));
  CHECK(count(html, "<svg class=\"plot\"") >= 12);  // 3 curves, 1 heatmap, the layer curves, 1 histogram
  CHECK(has(html, "fc1 (deepshift-ps): share of weights on each level"));
  // Heatmap cells: 3 levels x 2 epochs; epoch 1 has 1 of 4 weights at 0.
  CHECK(has(html, "<title>0 @ 1: 25.00%</title>"));
  CHECK(has(html, R"(data-src="metrics" data-run="0" data-key="test_acc1" data-epoch="1">72.25</td>)"));
  CHECK(has(html, R"(data-key="seconds" data-agg="sum">5.00</td>)"));
  CHECK(has(html, R"(data-key="zero_frac" data-epoch="1" data-layer="fc1" data-scale="100">25.00</td>)"));
  CHECK(has(html, R"(data-key="grad_norm" data-epoch="1" data-layer="fc1">0.03125</td>)"));
  CHECK(has(html, "Family quantity: p_min"));
  CHECK(has(html, "<th>weight_bits</th><td>3</td>"));
  CHECK(has(html, "id=\"selfcheck\""));
}

TEST_CASE("report: a heatmap follows a level set that changes between epochs", "[report]") {
  TempDir tmp("report_levels");
  write_run(tmp.file("a"));
  // APoT's 8-bit layers change their level set with their largest weight: rows are matched by value.
  write_file_atomic(tmp.file("a") + "/stats.jsonl",
                    R"({"epoch": 0, "layer": "fc", "method": "apot-8bit", "weights": 4, "levels": [-1, 0, 1], "counts": [1, 2, 1]})"
                    "\n"
                    R"({"epoch": 1, "layer": "fc", "method": "apot-8bit", "weights": 4, "levels": [-2, -1, 0, 1, 2], "counts": [0, 0, 0, 0, 4]})"
                    "\n");
  std::string html = report::render_report({report::load_run(tmp.file("a"))});
  CHECK(has(html, "<title>-2^0 @ 0: 25.00%</title>"));
  CHECK(has(html, "<title>0 @ 0: 50.00%</title>"));
  CHECK(has(html, "<title>+2^1 @ 0: 0.00%</title>"));
  CHECK(has(html, "<title>+2^1 @ 1: 100.00%</title>"));
  CHECK(has(html, "<title>+2^0 @ 1: 0.00%</title>"));
}

TEST_CASE("report: bad run directories give one error naming the file", "[report][errors]") {
  TempDir tmp("report_bad");
  CHECK(has(error_of([&] { report::load_run(tmp.file("nope")); }), "not a run directory"));
  std::filesystem::create_directories(tmp.file("empty"));
  CHECK(has(error_of([&] { report::load_run(tmp.file("empty")); }), "no metrics.jsonl"));
  write_run(tmp.file("r"));
  write_file_atomic(tmp.file("r") + "/metrics.jsonl", "{\"epoch\": 0, \"lr\": 1}\nnot json\n");
  std::string e = error_of([&] { report::load_run(tmp.file("r")); });
  CHECK(has(e, "metrics.jsonl:1: the row has no 'train_loss'"));
  write_file_atomic(tmp.file("r") + "/metrics.jsonl",
                    R"({"epoch": 0, "lr": 0.1, "train_loss": 1, "train_acc1": 1, "test_loss": 1, "test_acc1": 1})"
                    "\n{\"epoch\": 1,\n");
  CHECK(has(error_of([&] { report::load_run(tmp.file("r")); }), "metrics.jsonl:2: not valid JSON"));
  write_file_atomic(tmp.file("r") + "/metrics.jsonl",
                    R"({"epoch": 0, "lr": "fast", "train_loss": 1, "train_acc1": 1, "test_loss": 1, "test_acc1": 1})");
  CHECK(has(error_of([&] { report::load_run(tmp.file("r")); }), "'lr' must be a number"));
  write_file_atomic(tmp.file("r") + "/metrics.jsonl", "\n");
  CHECK(has(error_of([&] { report::load_run(tmp.file("r")); }), "no epoch recorded"));
  write_run(tmp.file("s"));
  write_file_atomic(tmp.file("s") + "/stats.jsonl", R"({"epoch": 0, "layer": 3, "method": "s3"})");
  CHECK(has(error_of([&] { report::load_run(tmp.file("s")); }), "stats.jsonl: row 1"));
}
