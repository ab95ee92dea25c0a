// A per-kernel time profile for finding where a step's time goes (`shiftlab bench train
// --profile`). Off by default: then Kernel::operator() pays one relaxed atomic load.
#pragma once
#include <atomic>
#include <string>

namespace sl {

class KernelProfiler {
 public:
  static bool enabled() { return on_.load(std::memory_order_relaxed); }
  static void enable(bool on);
  static void add(const char* kernel, double seconds);
  static void reset();
  // The table of kernels by total time, with calls and share of `wall_seconds`.
  static std::string report(double wall_seconds);

 private:
  static std::atomic<bool> on_;
};

}  // namespace sl
