// IDX files, plain or gzip (MNIST-style datasets): magic, dimensions, payload, gzip stream.
#include "data/idx.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sl::fuzz::MemFile file(data, size);
  sl::fuzz::expect_clean(file.path(), [&] { sl::data::read_idx_u8(file.path(), 3, "images"); });
  sl::fuzz::expect_clean(file.path(), [&] { sl::data::read_idx_u8(file.path(), 1, "labels"); });
  return 0;
}
