// CIFAR-10/100 binary batches: record size, labels. The first byte picks the variant.
#include "data/cifar.h"
#include "fuzz_common.h"

namespace sl::fuzz {
inline int cifar(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto kind = data[0] & 1 ? sl::data::CifarKind::cifar100 : sl::data::CifarKind::cifar10;
  MemFile file(data + 1, size - 1);
  expect_clean(file.path(), [&] { sl::data::load_cifar_files({file.path()}, kind, 0, "fuzz"); });
  return 0;
}
}  // namespace sl::fuzz

#ifndef SHIFTLAB_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return sl::fuzz::cifar(data, size); }
#endif
