// A kernel slot: a named function pointer that one backend fills in. Calling an empty slot throws
// an sl::Error naming the kernel and the device (the DispatchStub idea, without code generation).
#pragma once
#include "engine/device.h"
#include "engine/error.h"

namespace sl {

template <class Sig>
class Kernel;

template <class R, class... Args>
class Kernel<R(Args...)> {
 public:
  using Fn = R (*)(Args...);
  Kernel(const char* name, Device device) : name_(name), device_(device) {}
  R operator()(Args... args) const {
    if (!fn_) fail("kernel '{}' is not implemented for device {}", name_, device_);
    return fn_(args...);
  }
  Kernel& operator=(Fn fn) {
    fn_ = fn;
    return *this;
  }
  bool available() const { return fn_ != nullptr; }
  const char* name() const { return name_; }

 private:
  const char* name_;
  Device device_;
  Fn fn_ = nullptr;
};

}  // namespace sl
