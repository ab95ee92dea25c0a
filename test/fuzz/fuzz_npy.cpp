// .npy files (`shiftlab quantize --in`, golden data): header, shape, dtype and payload size.
#include "engine/npy.h"
#include "fuzz_common.h"

namespace sl::fuzz {
inline int npy(const uint8_t* data, size_t size) {
  expect_clean("input.npy", [&] { sl::parse_npy(reinterpret_cast<const char*>(data), size, "input.npy"); });
  return 0;
}
}  // namespace sl::fuzz

#ifndef SHIFTLAB_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return sl::fuzz::npy(data, size); }
#endif
