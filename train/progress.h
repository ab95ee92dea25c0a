// Progress output in the PyTorch ImageNet example's format:
//   Epoch: [3][ 120/469]	Time  0.041 ( 0.043)	Data  0.000 ( 0.001)	Loss 4.1234e-01 (4.5678e-01)	Acc@1  85.94 ( 83.12)	Acc@5 100.00 ( 99.10)
// printed every `print_freq` batches and at the last one; on a terminal a live bar is redrawn in
// place instead (rate-limited), followed by the final line.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "train/metrics.h"

namespace sl {

bool stdout_is_terminal();

struct StepMeters {
  AverageMeter batch_time{"Time"}, data_time{"Data"}, loss{"Loss"}, top1{"Acc@1"}, top5{"Acc@5"};
};

class Progress {
 public:
  // prefix: "Epoch: [3]" or "Test: "; total: batches in the pass.
  Progress(std::string prefix, int64_t total, int64_t print_freq, bool live);
  // After batch `done` (1-based) of `total`.
  void update(int64_t done, const StepMeters& m);

 private:
  std::string line(int64_t done, const StepMeters& m) const;
  std::string bar(int64_t done, const StepMeters& m) const;
  std::string prefix_;
  int64_t total_, print_freq_;
  bool live_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace sl
