// Per-epoch JSON-lines logs of a run directory (metrics.jsonl, stats.jsonl): objects with an
// "epoch" key. A row is appended before the epoch's checkpoint is renamed into place, so a run
// killed in between has a row its checkpoint does not cover; resuming drops such rows first.
#pragma once
#include <cstdint>
#include <string>

namespace sl {

// Keeps the rows of `path` whose epoch is below `epoch` (and drops lines that do not parse, e.g. a
// line torn by a kill); rewrites the file atomically, only when something is dropped. Returns the
// number of lines dropped. A missing file is left missing.
int64_t keep_epochs_before(const std::string& path, int64_t epoch);

}  // namespace sl
