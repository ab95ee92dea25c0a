// The data loader: batches of normalised f32 images [B, C, H, W] and i32 labels [B], with a seeded
// shuffle per epoch, drop-last, a subset option, parallel decode + augmentation (oneTBB, `workers`
// threads) and a background thread that builds batch k+1 while batch k trains.
//
// Determinism: the order is a function of (seed, epoch) and the augmentation of sample i a
// function of (seed, epoch, i), so batches are bit-identical for any worker count and with or
// without prefetching.
#pragma once
#include <tbb/task_arena.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"
#include "engine/tensor.h"

namespace sl::data {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = false;  // leave out the last batch when it would be smaller than batch_size
  uint64_t seed = 0;
  int workers = 0;         // threads decoding and augmenting one batch; 0: num_threads()
  int64_t subset = 0;      // > 0: only the first `subset` samples of the dataset, taken before shuffling
  bool prefetch = true;    // build the next batch on a background thread
  bool report_skipped = true;  // one warning line on stderr per epoch when images were skipped
  // Data-parallel runs: batch `batch_size` is the global batch, and this process gets rows
  // [len * shard_rank / shard_count, len * (shard_rank + 1) / shard_count) of each batch of len
  // samples (the order and each sample's augmentation are those of one process). A last batch with
  // fewer samples than shards is left out, so that every shard of every batch has a sample, unless
  // `allow_empty_shards` (evaluation, which scores every sample and skips an empty shard).
  int shard_rank = 0;
  int shard_count = 1;
  bool allow_empty_shards = false;
};

struct Batch {
  Tensor images;                 // f32 [B, C, H, W]
  Tensor labels;                 // i32 [B]
  std::vector<int64_t> indices;  // the dataset index of each row
  int64_t number = 0;            // position of the batch in the epoch
  std::vector<std::string> skipped;  // why each left-out sample was skipped (skip_bad_images)
};

// The sample order of an epoch: a Fisher-Yates shuffle of [0, n) drawing from Philox keyed by
// (seed, epoch), so it is the same on every machine and thread count.
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, int64_t epoch);

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, Compose transform, LoaderOptions options = {});
  ~DataLoader();  // cancels the batch in progress, if any, and joins the prefetch thread
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t size() const { return size_; }  // samples per epoch (after subset), over all shards
  int64_t batches_per_epoch() const;
  // Starts (or restarts) an epoch: new order, batch `first_batch` queued (a resumed run skips the
  // batches it already trained on). A batch still being built for the previous epoch is cancelled
  // and dropped.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch, or nothing at the end of the epoch. Starts epoch 0 if no epoch was started.
  // Errors raised while building a batch (on any thread) are thrown here; after one, next()
  // keeps throwing it until start_epoch().
  std::optional<Batch> next();

  int64_t epoch() const { return epoch_; }
  const std::vector<int64_t>& order() const { return order_; }  // this epoch's sample order
  int64_t skipped() const { return skipped_; }  // samples skipped so far in this epoch
  const Dataset& dataset() const { return *dataset_; }
  const Compose& transform() const { return transform_; }
  const LoaderOptions& options() const { return options_; }

 private:
  // One batch to build on the background thread, tagged with the epoch generation it belongs to.
  struct Job {
    uint64_t generation = 0;
    int64_t number = 0, epoch = 0;
    std::vector<int64_t> indices;
  };
  struct Result {
    Batch batch;
    std::exception_ptr error;
  };

  Batch build(int64_t number, int64_t epoch, std::vector<int64_t> indices, uint64_t generation) const;
  std::vector<int64_t> batch_indices(int64_t number) const;
  void submit_next();  // hands the next batch of the epoch to the background thread
  void worker_loop();
  void end_of_epoch_report();

  std::shared_ptr<const Dataset> dataset_;
  Compose transform_;
  LoaderOptions options_;
  int64_t size_ = 0;
  mutable tbb::task_arena arena_;
  int64_t epoch_ = -1;
  std::vector<int64_t> order_;
  int64_t launched_ = 0;  // batches of this epoch handed out for building
  int64_t received_ = 0;  // ... and taken back by next()
  std::exception_ptr error_;
  int64_t skipped_ = 0;
  std::string first_skip_;
  bool reported_ = false;

  // The prefetch thread, started with the first epoch. start_epoch() bumps `generation_`, which
  // makes a batch of an older epoch stop early (its workers check it per sample) and be dropped.
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;           // guarded by mutex_, as are job_ and ready_
  std::optional<Job> job_;      // waiting to be built
  std::optional<Result> ready_;  // built for the current generation, waiting for next()
};

}  // namespace sl::data
