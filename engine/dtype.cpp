#include "engine/dtype.h"

#include "engine/error.h"

namespace sl {

namespace {
struct DTypeTraits {
  const char* name;
  size_t size;
  bool floating;
};
// One row per DType, in enum order; the static_assert keeps the table complete.
constexpr DTypeTraits kTraits[] = {
    {"f32", 4, true}, {"f64", 8, true}, {"i32", 4, false},
    {"i64", 8, false}, {"i8", 1, false}, {"u8", 1, false},
};
static_assert(sizeof(kTraits) / sizeof(kTraits[0]) == static_cast<size_t>(DType::COUNT),
              "every DType needs a row in kTraits");

const DTypeTraits& traits(DType d) {
  auto i = static_cast<size_t>(d);
  SL_CHECK(i < static_cast<size_t>(DType::COUNT), "invalid dtype value {}", i);
  return kTraits[i];
}
}  // namespace

size_t dtype_size(DType d) { return traits(d).size; }
const char* dtype_name(DType d) { return traits(d).name; }
bool is_floating(DType d) { return traits(d).floating; }

DType dtype_from_name(const std::string& name) {
  for (size_t i = 0; i < static_cast<size_t>(DType::COUNT); ++i)
    if (name == kTraits[i].name) return static_cast<DType>(i);
  fail("unknown dtype '{}' (expected f32, f64, i32, i64, i8 or u8)", name);
}

}  // namespace sl
