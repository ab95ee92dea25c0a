#include "train/evaluate.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

#include "autograd/ops.h"
#include "train/metrics.h"
#include "train/progress.h"

namespace sl {

PassResult evaluate_loader(data::DataLoader& loader, const std::function<Tensor(const Tensor&)>& forward,
                           int64_t print_freq, dist::Communicator* comm) {
  StepMeters m;
  Progress progress("Test: ", loader.batches_per_epoch(), print_freq, stdout_is_terminal());
  loader.start_epoch(0);
  auto start = std::chrono::steady_clock::now(), tick = start;
  int64_t step = 0;
  while (auto batch = loader.next()) {
    // Mean loss, top-1 and top-5 correct, n of this rank's share (an empty share adds nothing).
    double loss = 0;
    std::array<double, 4> sums{};
    if (!batch->indices.empty()) {
      const int64_t n = batch->images.size(0);
      Tensor logits = forward(batch->images);
      Tensor y = batch->labels.to(logits.device());
      loss = cross_entropy(logits, y).item();
      sums = {loss * static_cast<double>(n), static_cast<double>(topk_correct(logits, y, 1)),
              static_cast<double>(topk_correct(logits, y, std::min<int64_t>(5, logits.size(1)))),
              static_cast<double>(n)};
    }
    if (comm && comm->size() > 1) {  // the batch's metrics over every rank's share
      comm->allreduce_sum(sums.data(), 4);
      loss = sums[3] > 0 ? sums[0] / sums[3] : 0;
    }
    auto now = std::chrono::steady_clock::now();
    m.batch_time.update(std::chrono::duration<double>(now - tick).count());
    tick = now;
    const auto n = static_cast<int64_t>(sums[3]);
    if (n > 0) {
      m.loss.update(loss, n);
      m.top1.update(100.0 * sums[1] / sums[3], n);
      m.top5.update(100.0 * sums[2] / sums[3], n);
    }
    progress.update(++step, m);
  }
  fmt::print(" * Acc@1 {:.3f} Acc@5 {:.3f}\n", m.top1.avg(), m.top5.avg());
  std::fflush(stdout);
  PassResult r;
  r.loss = m.loss.avg();
  r.acc1 = m.top1.avg();
  r.acc5 = m.top5.avg();
  r.images = m.loss.count();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace sl
