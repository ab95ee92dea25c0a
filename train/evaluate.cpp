#include "train/evaluate.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "autograd/ops.h"
#include "train/metrics.h"
#include "train/progress.h"

namespace sl {

PassResult evaluate_loader(data::DataLoader& loader, const std::function<Tensor(const Tensor&)>& forward,
                           int64_t print_freq) {
  StepMeters m;
  Progress progress("Test: ", loader.batches_per_epoch(), print_freq, stdout_is_terminal());
  loader.start_epoch(0);
  auto start = std::chrono::steady_clock::now(), tick = start;
  int64_t step = 0;
  while (auto batch = loader.next()) {
    const int64_t n = batch->images.size(0);
    Tensor logits = forward(batch->images);
    Tensor y = batch->labels.to(logits.device());
    double loss = cross_entropy(logits, y).item();
    int64_t c1 = topk_correct(logits, y, 1), c5 = topk_correct(logits, y, std::min<int64_t>(5, logits.size(1)));
    auto now = std::chrono::steady_clock::now();
    m.batch_time.update(std::chrono::duration<double>(now - tick).count());
    tick = now;
    m.loss.update(loss, n);
    m.top1.update(100.0 * static_cast<double>(c1) / static_cast<double>(n), n);
    m.top5.update(100.0 * static_cast<double>(c5) / static_cast<double>(n), n);
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
