// The CPU thread budget: oneTBB's arena, capped by a process-wide limit (--threads).
#pragma once
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstddef>
#include <memory>

namespace sl {

// Threads that parallel CPU work may use right now.
inline int num_threads() {
  auto limit = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  return std::max(1, std::min(tbb::this_task_arena::max_concurrency(), static_cast<int>(limit)));
}

// Caps the worker threads for its lifetime; threads <= 0 leaves the default (all cores).
class ThreadLimit {
 public:
  explicit ThreadLimit(int threads) {
    if (threads > 0)
      control_ = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                       static_cast<size_t>(threads));
  }

 private:
  std::unique_ptr<tbb::global_control> control_;
};

}  // namespace sl
