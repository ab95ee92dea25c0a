// Overflow-safe size arithmetic for sizes read from files: every product or sum of untrusted
// sizes goes through these, so a hostile header gives a clear error instead of a wrapped value.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "engine/error.h"

namespace sl {

// a * b, or nullopt when the product does not fit in int64 (or a size is negative).
inline std::optional<int64_t> mul_nonneg(int64_t a, int64_t b) {
  if (a < 0 || b < 0) return std::nullopt;
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// a * b for non-negative sizes; throws "<what>: <a> * <b> overflows" otherwise.
inline int64_t checked_mul(int64_t a, int64_t b, const std::string& what) {
  auto r = mul_nonneg(a, b);
  if (!r) fail("{}: size {} * {} is negative or too large", what, a, b);
  return *r;
}

inline uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail("{}: size {} * {} is too large", what, a, b);
  return r;
}

inline uint64_t checked_add(uint64_t a, uint64_t b, const std::string& what) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) fail("{}: size {} + {} is too large", what, a, b);
  return r;
}

}  // namespace sl
