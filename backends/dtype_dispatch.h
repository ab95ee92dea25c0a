// DType -> C++ type dispatch shared by every backend's host code (backends/cpu/*.cpp and
// backends/cuda/*.cu): a kernel family writes its typed body once and lets these pick the type.
#pragma once
#include <cstdint>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"

namespace sl {

// Calls f(T{}) with T the element type of any storage dtype; `kernel` names the caller in the error
// an invalid dtype value gets.
template <class F>
void dispatch_dtype(DType dt, const char* kernel, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    case DType::i32: f(int32_t{}); return;
    case DType::i64: f(int64_t{}); return;
    case DType::i8: f(int8_t{}); return;
    case DType::u8: f(uint8_t{}); return;
    default: fail("{}: invalid dtype value {}", kernel, static_cast<int>(dt));
  }
}

// Calls f(From{}, To{}) for a conversion between any two storage dtypes.
template <class F>
void dispatch_dtype_pair(DType from, DType to, const char* kernel, F&& f) {
  dispatch_dtype(from, kernel, [&](auto from_tag) {
    dispatch_dtype(to, kernel, [&](auto to_tag) { f(from_tag, to_tag); });
  });
}

// Calls f(T{}) with T = float or double; other dtypes are an error naming the kernel and the device.
template <class F>
void dispatch_floating(DType dt, const char* kernel, Device device, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    default: fail("{}: dtype {} is not supported on {} (f32 or f64 only)", kernel, dt, device);
  }
}

}  // namespace sl
