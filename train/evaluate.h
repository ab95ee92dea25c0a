// One pass over a test loader with any forward function: the progress lines of the PyTorch example
// and " * Acc@1 ... Acc@5 ..." at the end. Shared by the trainer (the float model) and `eval
// --deploy` (the integer runtime), so both print and score the same way.
#pragma once
#include <functional>

#include "data/loader.h"
#include "dist/communicator.h"

namespace sl {

struct PassResult {
  double loss = 0, acc1 = 0, acc5 = 0;
  int64_t images = 0;
  double seconds = 0;
};

// forward: images [B, C, H, W] (CPU f32) -> logits [B, classes] on any device. With a
// communicator of several ranks, each rank's loader holds its shard of every batch and the sums
// behind the printed and returned metrics are added over the ranks.
PassResult evaluate_loader(data::DataLoader& loader, const std::function<Tensor(const Tensor&)>& forward,
                           int64_t print_freq, dist::Communicator* comm = nullptr);

}  // namespace sl
