#include "engine/rng.h"

#include <Random123/philox.h>

#include "engine/error.h"

namespace sl {

std::array<uint32_t, 4> philox(uint64_t seed, uint64_t counter, uint64_t stream) {
  r123::Philox4x32 gen;
  r123::Philox4x32::ctr_type c = {{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                                    static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)}};
  r123::Philox4x32::key_type k = {{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
  auto r = gen(c, k);
  return {r.v[0], r.v[1], r.v[2], r.v[3]};
}

uint64_t Generator::reserve(int64_t n) {
  SL_CHECK(n >= 0, "Generator::reserve: negative count {}", n);
  uint64_t first = offset_;
  offset_ += static_cast<uint64_t>((n + 3) / 4);
  return first;
}

uint32_t Generator::next_u32() { return philox(seed_, reserve(1))[0]; }

double Generator::next_uniform() { return uniform01(next_u32()); }

int64_t Generator::next_below(int64_t bound) {
  SL_CHECK(bound > 0, "Generator::next_below: bound must be positive, got {}", bound);
  auto r = philox(seed_, reserve(4));
  uint64_t x = (static_cast<uint64_t>(r[0]) << 32) | r[1];
  // Bias is below 2^-32 for the bounds used here (dataset sizes, crop offsets).
  return static_cast<int64_t>(x % static_cast<uint64_t>(bound));
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace sl
