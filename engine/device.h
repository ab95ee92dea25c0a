// Where a tensor's storage lives. Kernels are chosen by this value in one place (backends/backend.h).
#pragma once
#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace sl {

enum class Device : uint8_t { cpu, cuda, COUNT };

const char* device_name(Device device);
Device device_from_name(const std::string& name);  // "cpu" or "cuda"; throws sl::Error otherwise

}  // namespace sl

template <>
struct fmt::formatter<sl::Device> : fmt::formatter<fmt::string_view> {
  template <class Ctx>
  auto format(sl::Device d, Ctx& ctx) const {
    return fmt::formatter<fmt::string_view>::format(sl::device_name(d), ctx);
  }
};
