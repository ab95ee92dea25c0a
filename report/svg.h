// Inline SVG plots for the HTML report (no script, no external file): line charts, heatmaps and
// bar histograms. Every plot is an <svg class="plot"> whose data marks carry class="mark", which
// is how the page's self-check (and the headless-browser test) tells a drawn plot from an empty one.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace sl::report {

// A missing value (std::nullopt) breaks the line.
struct Series {
  std::string name;
  std::vector<double> x;
  std::vector<std::optional<double>> y;
  int color = 0;        // index into the palette
  bool dashed = false;  // e.g. the training curve beside the solid test curve
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool log_y = false;   // values <= 0 are then skipped
  int width = 600, height = 250;
};
std::string svg_line_chart(const LineChart& chart);

// values[row][col] in [0, 1]; row 0 is drawn at the top.
struct Heatmap {
  std::string title, x_label;
  std::vector<std::string> row_labels, col_labels;
  std::vector<std::vector<double>> values;
  int width = 600;
};
std::string svg_heatmap(const Heatmap& map);

// Counts over equal bins between lo and hi.
struct Histogram {
  std::string title;
  double lo = 0, hi = 1;
  std::vector<double> counts;
  int color = 0;
  int width = 300, height = 160;
};
std::string svg_histogram(const Histogram& h);

// The palette's colour for an index (cycles).
std::string palette(int index);
// Text escaped for HTML/SVG content and attribute values.
std::string escape(const std::string& text);
// A short human number: 3 significant digits, no trailing zeros (0.00123, 12.5, 1.2e+06).
std::string short_number(double v);

}  // namespace sl::report
