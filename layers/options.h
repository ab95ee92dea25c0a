// SL_ARG: a LibTorch-style option field with a fluent setter and a getter of the same name, so that
// options read as `Conv2dOptions(3, 16, 3).stride(2).padding(1).bias(false)`.
#pragma once
#include <array>
#include <cstdint>

namespace sl {
// A (height, width) pair: kernel sizes, strides, paddings.
using Size2 = std::array<int64_t, 2>;
}  // namespace sl

// Declares `T name_` (private) with `name(value)` returning *this and `name()` returning the value.
// Follow it with an optional default initialiser: `SL_ARG(int64_t, groups) = 1;`.
#define SL_ARG(T, name)                              \
 public:                                             \
  auto name(const T& value)->decltype(*this) {       \
    this->name##_ = value;                           \
    return *this;                                    \
  }                                                  \
  const T& name() const noexcept { return name##_; } \
                                                     \
 private:                                            \
  T name##_
