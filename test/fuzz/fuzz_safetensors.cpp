// safetensors files and the checkpoints stored in them (`--resume`, `--weights`, `inspect`):
// header length, JSON header, offsets, then the checkpoint's metadata and trainer state.
#include "fuzz_common.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sl::fuzz::MemFile file(data, size);
  sl::fuzz::expect_clean(file.path(), [&] { sl::load_checkpoint(file.path()); });
  return 0;
}
