#include "report/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace sl::report {

namespace {

constexpr int kLeft = 58, kRight = 12, kTop = 26, kBottom = 38;

// About `n` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten).
std::vector<double> nice_ticks(double lo, double hi, int n = 5) {
  double span = hi - lo;
  double raw = span / n, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

// Widens a degenerate range so a constant series still gets an axis.
void pad_range(double& lo, double& hi) {
  if (!(hi > lo)) {
    double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
}

std::string header(int w, int h, const std::string& title) {
  return fmt::format(R"(<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" role="img" aria-label="{2}">)"
                     R"(<text x="{3}" y="16" class="title">{2}</text>)",
                     w, h, escape(title), w / 2);
}

}  // namespace

std::string palette(int index) {
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return colours[((index % 10) + 10) % 10];
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string short_number(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  return fmt::format("{:.3g}", v);
}

std::string svg_line_chart(const LineChart& c) {
  // The legend takes a column right of the plot area, so it never hides a curve.
  const int legend_w = c.series.empty() ? 0 : 150;
  const int w = c.width, h = c.height, pw = w - kLeft - kRight - legend_w, ph = h - kTop - kBottom;
  auto usable = [&](const std::optional<double>& y) { return y && std::isfinite(*y) && (!c.log_y || *y > 0); };
  auto ty = [&](double y) { return c.log_y ? std::log10(y) : y; };
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series& s : c.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (usable(s.y[i])) {
        x0 = std::min(x0, s.x[i]);
        x1 = std::max(x1, s.x[i]);
        y0 = std::min(y0, ty(*s.y[i]));
        y1 = std::max(y1, ty(*s.y[i]));
      }
  std::string out = header(w, h, c.title);
  if (!(x0 <= x1)) {
    out += fmt::format(R"(<text x="{}" y="{}" class="empty">no data</text></svg>)", w / 2, h / 2);
    return out;
  }
  pad_range(x0, x1);
  pad_range(y0, y1);
  if (!c.log_y) {  // a little air above and below the curves
    double m = (y1 - y0) * 0.05;
    y0 -= m;
    y1 += m;
  }
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return kTop + (1 - (ty(y) - y0) / (y1 - y0)) * ph; };
  out += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" class="frame"/>)", kLeft, kTop, pw, ph);
  std::vector<double> yt = nice_ticks(y0, y1, 4);
  for (double t : yt) {
    double y = kTop + (1 - (t - y0) / (y1 - y0)) * ph;
    std::string label = short_number(c.log_y ? std::pow(10.0, t) : t);
    out += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" class="gridline"/><text x="{}" y="{:.1f}" class="ytick">{}</text>)",
                       kLeft, kLeft + pw, y, y, kLeft - 4, y + 4, label);
  }
  std::vector<double> xt = nice_ticks(x0, x1, std::min(8, std::max(2, static_cast<int>(x1 - x0))));
  for (double t : xt)
    out += fmt::format(R"(<text x="{:.1f}" y="{}" class="xtick">{}</text>)", px(t), kTop + ph + 14, short_number(t));
  out += fmt::format(R"(<text x="{}" y="{}" class="xlabel">{}</text>)", kLeft + pw / 2, h - 6, escape(c.x_label));
  out += fmt::format(R"~(<text x="12" y="{}" class="ylabel" transform="rotate(-90 12 {})">{}</text>)~", kTop + ph / 2,
                     kTop + ph / 2, escape(c.y_label + (c.log_y ? " (log)" : "")));
  for (const Series& s : c.series) {
    std::string colour = palette(s.color), dash = s.dashed ? R"( stroke-dasharray="5 3")" : "";
    std::string points, dots;
    auto flush = [&] {
      if (!points.empty())
        out += fmt::format(R"(<polyline class="mark" fill="none" stroke="{}" stroke-width="1.6"{} points="{}"/>)", colour,
                           dash, points);
      points.clear();
    };
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s.y[i])) {
        flush();
        continue;
      }
      std::string p = fmt::format("{:.1f},{:.1f}", px(s.x[i]), py(*s.y[i]));
      points += (points.empty() ? "" : " ") + p;
      dots += fmt::format(R"(<circle class="mark" cx="{:.1f}" cy="{:.1f}" r="2.2" fill="{}"><title>{}: {} = {}</title></circle>)",
                          px(s.x[i]), py(*s.y[i]), colour, escape(s.name), short_number(s.x[i]), short_number(*s.y[i]));
    }
    flush();
    out += dots;
  }
  // Legend: one row per series (as many as fit), right of the plot area.
  const int lx = kLeft + pw + 10, rows = std::max(1, (ph + kBottom - 8) / 13);
  int ly = kTop + 8;
  for (size_t i = 0; i < c.series.size(); ++i) {
    const Series& s = c.series[i];
    if (static_cast<int>(i) == rows - 1 && c.series.size() > static_cast<size_t>(rows)) {
      out += fmt::format(R"(<text x="{}" y="{}" class="legend">… {} more</text>)", lx, ly, c.series.size() - i);
      break;
    }
    std::string name = s.name.size() > 24 ? s.name.substr(0, 23) + "…" : s.name;
    out += fmt::format(R"(<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="2"{}/><text x="{}" y="{}" class="legend">{}</text>)",
                       lx, lx + 18, ly - 4, ly - 4, palette(s.color), s.dashed ? R"( stroke-dasharray="5 3")" : "", lx + 22, ly,
                       escape(name));
    ly += 13;
  }
  return out + "</svg>";
}

std::string svg_heatmap(const Heatmap& m) {
  const size_t rows = m.values.size(), cols = m.col_labels.size();
  const int left = 70, top = kTop, bottom = 34;
  const double cell_h = rows == 0 ? 10 : std::clamp(260.0 / static_cast<double>(rows), 2.0, 14.0);
  const int ph = static_cast<int>(std::ceil(cell_h * static_cast<double>(rows))), pw = m.width - left - kRight - 40;
  const int h = top + ph + bottom;
  std::string out = header(m.width, h, m.title);
  if (rows == 0 || cols == 0) return out + R"(<text x="50%" y="50%" class="empty">no data</text></svg>)";
  const double cell_w = static_cast<double>(pw) / static_cast<double>(cols);
  const size_t label_every = std::max<size_t>(1, static_cast<size_t>(std::ceil(11.0 / cell_h)));
  for (size_t r = 0; r < rows; ++r) {
    double y = top + cell_h * static_cast<double>(r);
    if (r % label_every == 0 && r < m.row_labels.size())
      out += fmt::format(R"(<text x="{}" y="{:.1f}" class="ytick">{}</text>)", left - 4, y + std::min(cell_h, 11.0) - 1,
                         escape(m.row_labels[r]));
    for (size_t col = 0; col < cols && col < m.values[r].size(); ++col) {
      double v = std::clamp(m.values[r][col], 0.0, 1.0);
      // sqrt spreads the small fractions a level set usually has; 0 stays white.
      int shade = static_cast<int>(std::lround(255 * (1 - std::sqrt(v))));
      out += fmt::format(R"~(<rect class="mark" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="rgb({},{},255)"><title>{} @ {}: {:.2f}%</title></rect>)~",
                         left + cell_w * static_cast<double>(col), y, cell_w + 0.3, cell_h + 0.3, shade, shade,
                         r < m.row_labels.size() ? escape(m.row_labels[r]) : "", escape(m.col_labels[col]), 100 * v);
    }
  }
  out += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" class="frame"/>)", left, top, pw, ph);
  const size_t col_every = std::max<size_t>(1, static_cast<size_t>(std::ceil(28.0 / cell_w)));
  for (size_t col = 0; col < cols; col += col_every)
    out += fmt::format(R"(<text x="{:.1f}" y="{}" class="xtick">{}</text>)", left + cell_w * (static_cast<double>(col) + 0.5),
                       top + ph + 13, escape(m.col_labels[col]));
  out += fmt::format(R"(<text x="{}" y="{}" class="xlabel">{}</text>)", left + pw / 2, h - 4, escape(m.x_label));
  // Colour key: 0 % (white) to 100 % (blue).
  for (int i = 0; i < 10; ++i) {
    int shade = static_cast<int>(std::lround(255 * (1 - std::sqrt(i / 9.0))));
    out += fmt::format(R"~(<rect x="{}" y="{:.1f}" width="10" height="{:.1f}" fill="rgb({},{},255)"/>)~", m.width - 40,
                       top + ph * (9 - i) / 10.0, ph / 10.0 + 0.3, shade, shade);
  }
  out += fmt::format(R"(<text x="{}" y="{}" class="legend">100%</text><text x="{}" y="{}" class="legend">0%</text>)",
                     m.width - 28, top + 9, m.width - 28, top + ph);
  return out + "</svg>";
}

std::string svg_histogram(const Histogram& hg) {
  const int w = hg.width, h = hg.height, left = 12, pw = w - left - kRight, ph = h - kTop - 30;
  std::string out = header(w, h, hg.title);
  double top = 0;
  for (double c : hg.counts) top = std::max(top, c);
  if (hg.counts.empty() || top <= 0) return out + R"(<text x="50%" y="50%" class="empty">no data</text></svg>)";
  const double bw = static_cast<double>(pw) / static_cast<double>(hg.counts.size());
  for (size_t i = 0; i < hg.counts.size(); ++i) {
    double bh = hg.counts[i] / top * ph;
    if (bh <= 0) continue;
    double lo = hg.lo + (hg.hi - hg.lo) * static_cast<double>(i) / static_cast<double>(hg.counts.size());
    out += fmt::format(R"(<rect class="mark" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>[{}, ...): {}</title></rect>)",
                       left + bw * static_cast<double>(i), kTop + ph - bh, std::max(bw - 1, 0.5), bh, palette(hg.color),
                       short_number(lo), short_number(hg.counts[i]));
  }
  out += fmt::format(R"(<line x1="{}" x2="{}" y1="{}" y2="{}" class="axis"/>)", left, left + pw, kTop + ph, kTop + ph);
  out += fmt::format(R"(<text x="{}" y="{}" class="xtick">{}</text><text x="{}" y="{}" class="xtick">0</text><text x="{}" y="{}" class="xtick">{}</text>)",
                     left + 10, kTop + ph + 14, short_number(hg.lo), left + pw / 2, kTop + ph + 14, left + pw - 10, kTop + ph + 14,
                     short_number(hg.hi));
  return out + "</svg>";
}

}  // namespace sl::report
