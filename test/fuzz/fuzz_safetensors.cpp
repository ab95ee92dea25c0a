// safetensors files and the checkpoints stored in them (`--resume`, `--weights`, `inspect`):
// header length, JSON header, offsets, then the checkpoint's metadata and trainer state.
#include "fuzz_common.h"
#include "train/checkpoint.h"

namespace sl::fuzz {
inline int safetensors(const uint8_t* data, size_t size) {
  MemFile file(data, size);
  expect_clean(file.path(), [&] { sl::load_checkpoint(file.path()); });
  return 0;
}
}  // namespace sl::fuzz

#ifndef SHIFTLAB_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return sl::fuzz::safetensors(data, size); }
#endif
