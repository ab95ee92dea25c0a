#include "backends/profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

namespace sl {

std::atomic<bool> KernelProfiler::on_{false};

namespace {
struct Entry {
  double seconds = 0;
  int64_t calls = 0;
};
std::mutex g_mutex;
std::map<std::string, Entry>& table() {
  static std::map<std::string, Entry> t;
  return t;
}
}  // namespace

void KernelProfiler::enable(bool on) { on_ = on; }

void KernelProfiler::add(const char* kernel, double seconds) {
  std::lock_guard<std::mutex> lock(g_mutex);
  Entry& e = table()[kernel];
  e.seconds += seconds;
  ++e.calls;
}

void KernelProfiler::reset() {
  std::lock_guard<std::mutex> lock(g_mutex);
  table().clear();
}

std::string KernelProfiler::report(double wall) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<std::pair<std::string, Entry>> rows(table().begin(), table().end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  std::string out = fmt::format("{:<32} {:>10} {:>8} {:>7}\n", "kernel", "ms", "calls", "share");
  double sum = 0;
  for (const auto& [name, e] : rows) {
    sum += e.seconds;
    out += fmt::format("{:<32} {:>10.2f} {:>8} {:>6.1f}%\n", name, e.seconds * 1e3, e.calls, 100 * e.seconds / wall);
  }
  out += fmt::format("{:<32} {:>10.2f} {:>8} {:>6.1f}%\n", "(outside kernels: graph, allocs)", (wall - sum) * 1e3, "",
                     100 * (wall - sum) / wall);
  return out;
}

}  // namespace sl
