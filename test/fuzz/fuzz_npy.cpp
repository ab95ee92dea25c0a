// .npy files (`shiftlab quantize --in`, golden data): header, shape, dtype and payload size.
#include "engine/npy.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sl::fuzz::expect_clean("input.npy", [&] { sl::parse_npy(reinterpret_cast<const char*>(data), size, "input.npy"); });
  return 0;
}
