// Deploy models (`shiftlab export` output, read by `infer`, `eval --deploy`, `bench infer`): the
// safetensors container, the graph JSON and its consistency (tensor ids, shapes, codes, levels).
#include "deploy/model.h"
#include "fuzz_common.h"

namespace sl::fuzz {
inline int deploy(const uint8_t* data, size_t size) {
  MemFile file(data, size);
  expect_clean(file.path(), [&] { sl::deploy::load_model(file.path()); });
  return 0;
}
}  // namespace sl::fuzz

#ifndef SHIFTLAB_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return sl::fuzz::deploy(data, size); }
#endif
