#include "train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace sl {

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) != 0; }

Progress::Progress(std::string prefix, int64_t total, int64_t print_freq, bool live)
    : prefix_(std::move(prefix)), total_(total), print_freq_(print_freq), live_(live),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

std::string Progress::line(int64_t done, const StepMeters& m) const {
  int width = static_cast<int>(std::to_string(total_).size());
  return fmt::format("{}[{:>{}}/{}]\tTime {:6.3f} ({:6.3f})\tData {:6.3f} ({:6.3f})\tLoss {:.4e} ({:.4e})\t"
                     "Acc@1 {:6.2f} ({:6.2f})\tAcc@5 {:6.2f} ({:6.2f})",
                     prefix_, done, width, total_, m.batch_time.val(), m.batch_time.avg(), m.data_time.val(),
                     m.data_time.avg(), m.loss.val(), m.loss.avg(), m.top1.val(), m.top1.avg(), m.top5.val(),
                     m.top5.avg());
}

std::string Progress::bar(int64_t done, const StepMeters& m) const {
  double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1;
  const int width = 24;
  int filled = static_cast<int>(frac * width);
  std::string cells;
  for (int i = 0; i < width; ++i) cells += i < filled ? "\u2588" : " ";
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
  return fmt::format("\r{} {:3.0f}%|{}| {}/{} [{:02d}:{:02d}<{:02d}:{:02d}, {:.1f} it/s, loss {:.4f}, acc@1 {:.2f}]",
                     prefix_, 100 * frac, cells, done, total_, static_cast<int>(elapsed) / 60,
                     static_cast<int>(elapsed) % 60, static_cast<int>(eta) / 60, static_cast<int>(eta) % 60, rate,
                     m.loss.avg(), m.top1.avg());
}

void Progress::update(int64_t done, const StepMeters& m) {
  bool last = done == total_;
  if (live_) {
    auto now = std::chrono::steady_clock::now();
    if (last || now - last_draw_ > std::chrono::milliseconds(100)) {
      fmt::print("{}\x1b[K", bar(done, m));
      last_draw_ = now;
    }
    if (last) fmt::print("\r\x1b[K{}\n", line(done, m));
  } else if ((done - 1) % print_freq_ == 0 || last) {
    fmt::print("{}\n", line(done, m));
  }
  std::fflush(stdout);
}

}  // namespace sl
