// Element types. f32 trains, f64 serves gradcheck, integers hold data, labels and deployed codes.
#pragma once
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace sl {

enum class DType : uint8_t { f32, f64, i32, i64, i8, u8, COUNT };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "f32", "f64", ...
bool is_floating(DType dtype);
DType dtype_from_name(const std::string& name);  // throws sl::Error on unknown names

template <class T>
struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::f64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::i32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::i64; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::i8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::u8; };

}  // namespace sl

template <>
struct fmt::formatter<sl::DType> : fmt::formatter<fmt::string_view> {
  template <class Ctx>
  auto format(sl::DType d, Ctx& ctx) const {
    return fmt::formatter<fmt::string_view>::format(sl::dtype_name(d), ctx);
  }
};
