// A kernel slot: a named function pointer that one backend fills in. Calling an empty slot throws
// an sl::Error naming the kernel and the device (the DispatchStub idea, without code generation).
#pragma once
#include <chrono>

#include "backends/profiler.h"
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
    if (!KernelProfiler::enabled()) return fn_(args...);
    struct Timer {  // records on scope exit, so value-returning kernels are timed too
      const char* name;
      std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
      ~Timer() { KernelProfiler::add(name, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()); }
    } timer{name_};
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
