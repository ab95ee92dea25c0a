// Counter-based random numbers (Random123 Philox4x32-10). A value is a pure function of
// (seed, counter), so streams do not depend on thread count or on the device that draws them.
#pragma once
#include <array>
#include <cstdint>

namespace sl {

// Four 32-bit random words for block `counter` (and an optional second counter word, e.g. a stream id).
std::array<uint32_t, 4> philox(uint64_t seed, uint64_t counter, uint64_t stream = 0);
// [0, 1) from one random word.
inline double uniform01(uint32_t bits) { return bits * (1.0 / 4294967296.0); }

// A seeded stream: every draw reserves Philox blocks by advancing `offset`. Saving (seed, offset)
// saves the state.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves blocks for n values (4 per block) and returns the first block's counter.
  uint64_t reserve(int64_t n);
  // Host-side draws (one block each), for shuffles and augmentation decisions.
  uint32_t next_u32();
  double next_uniform();                  // [0, 1)
  int64_t next_below(int64_t bound);      // [0, bound), bound > 0

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide generator used by rand/randn/dropout/initialisers when none is given.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace sl
