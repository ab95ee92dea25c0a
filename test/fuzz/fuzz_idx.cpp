// IDX files, plain or gzip (MNIST-style datasets): magic, dimensions, payload, gzip stream.
#include "data/idx.h"
#include "fuzz_common.h"

namespace sl::fuzz {
inline int idx(const uint8_t* data, size_t size) {
  MemFile file(data, size);
  expect_clean(file.path(), [&] { sl::data::read_idx_u8(file.path(), 3, "images"); });
  expect_clean(file.path(), [&] { sl::data::read_idx_u8(file.path(), 1, "labels"); });
  return 0;
}
}  // namespace sl::fuzz

#ifndef SHIFTLAB_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return sl::fuzz::idx(data, size); }
#endif
