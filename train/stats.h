// Per-epoch statistics of every weight layer, written to RUN_DIR/stats.jsonl (one JSON object per
// epoch and layer) so that `shiftlab report` can show how levels, signs and zeros move in training.
// Quantized layers: the level histogram, zeros, sign flips and level changes since the previous
// record, the fraction at the clip (largest level) and at the smallest non-zero level, the exponent
// range, the family's own quantities and the latent-vs-effective distance. Every layer (FP32 too):
// a histogram of its effective weight values and the weight and gradient norms. docs/teaching.md
// lists the keys.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "layers/module.h"

namespace sl {

// Bins of the weight-value histogram every row carries (symmetric around 0: [-max|w|, max|w|]).
constexpr int kWeightHistogramBins = 32;

class StatsRecorder {
 public:
  // Remembers each quantized layer's codes without writing a row, so the first record's sign flips
  // and level changes count from here (the initialisation, or the state a resumed run starts from).
  void snapshot(Module& model);
  // One row per weight layer of `model` (in named_modules order), tagged with `epoch`. Reads the
  // gradients the last step left in the parameters. Leaves the default generator's state as it was
  // (a stochastic-rounding family draws while building its effective weight).
  std::vector<nlohmann::ordered_json> record(Module& model, int64_t epoch);

 private:
  struct Codes {
    std::vector<int8_t> sign;
    std::vector<int32_t> index;
  };
  std::vector<nlohmann::ordered_json> collect(Module& model, int64_t epoch, bool keep_rows);
  std::map<std::string, Codes> previous_;
};

// Appends the rows to `path` (one compact JSON object per line).
void append_jsonl(const std::string& path, const std::vector<nlohmann::ordered_json>& rows);

}  // namespace sl
