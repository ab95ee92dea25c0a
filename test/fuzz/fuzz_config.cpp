// Run configs (`train --config X.json`): JSON syntax, nesting depth, keys, types and ranges.
#include <string_view>

#include "fuzz_common.h"
#include "train/run_config.h"

namespace sl::fuzz {
inline int config(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sl::RunConfig c;
  bool parsed = false;
  expect_clean("config.json", [&] {
    sl::apply_json(c, sl::parse_config_json(text, "config.json"), "config.json");
    parsed = true;
  });
  if (!parsed) return 0;
  try {  // range errors name the key and its flag (the value may come from a flag too)
    sl::validate(c);
  } catch (const sl::Error&) {
  }
  return 0;
}
}  // namespace sl::fuzz

#ifndef SHIFTLAB_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return sl::fuzz::config(data, size); }
#endif
