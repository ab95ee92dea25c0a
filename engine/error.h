// The one exception type of shiftlab and the check macro every layer uses.
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace sl {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace sl

// SL_CHECK(cond, "fmt {}", args...): throws sl::Error with the formatted message when cond is false.
#define SL_CHECK(cond, ...)      \
  do {                           \
    if (!(cond)) {               \
      ::sl::fail(__VA_ARGS__);   \
    }                            \
  } while (0)
