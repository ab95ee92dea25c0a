// The self-contained HTML report of one or more runs (`shiftlab report`, `shiftlab train --report`):
// inline CSS and SVG, no network. Curves of loss, accuracy and LR (overlaid across runs), a
// comparison table, and per run: level-usage heatmaps, sign-flip / zero / clip curves, the family's
// quantities, norms, weight histograms, the final per-layer table and the config.
//
// Table cells holding a number from metrics.jsonl / stats.jsonl carry where it came from
// (data-src, data-run, data-epoch, data-layer, data-key, data-scale, data-agg), and a small inline
// script writes a self-check (<pre id="selfcheck">: console errors, plots drawn) once the page has
// loaded; test/report_browser_test.py reads both from the page Chromium rendered.
#pragma once
#include <string>
#include <vector>

#include "report/run_data.h"

namespace sl::report {

std::string render_report(const std::vector<RunData>& runs);

// Loads the run directories, renders them and writes `out` atomically; returns the number of plots.
int write_report(const std::vector<std::string>& run_dirs, const std::string& out);

}  // namespace sl::report
