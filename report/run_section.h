// One run's section of the report: level-usage heatmaps, per-layer curves (sign flips, zeros, clip,
// the family's quantities, norms), weight histograms, the final per-layer table (what `shiftlab
// inspect` prints) and the run's config.
#pragma once
#include <string>

#include "report/run_data.h"

namespace sl::report {

std::string run_section(const RunData& run, size_t run_index);

}  // namespace sl::report
