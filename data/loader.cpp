#include "data/loader.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <numeric>

#include "engine/error.h"
#include "engine/rng.h"
#include "engine/threads.h"

namespace sl::data {

namespace {
// High word of the Philox stream for shuffles (augmentation uses 2, see transforms.cpp).
constexpr uint64_t kShuffleStream = uint64_t{1} << 32;

template <class F>
void parallel_rows(int64_t n, F&& f) {
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, 1), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t i = r.begin(); i < r.end(); ++i) f(i);
  });
}
}  // namespace

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, int64_t epoch) {
  SL_CHECK(n >= 0 && epoch >= 0, "shuffled_indices: n {} and epoch {} must be non-negative", n, epoch);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  uint64_t stream = kShuffleStream | static_cast<uint32_t>(epoch);
  for (int64_t i = n - 1; i > 0; --i) {
    auto r = philox(seed, static_cast<uint64_t>(i), stream);
    uint64_t x = (static_cast<uint64_t>(r[0]) << 32) | r[1];
    auto j = static_cast<int64_t>(x % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, Compose transform, LoaderOptions options)
    : dataset_(std::move(dataset)),
      transform_(std::move(transform)),
      options_(options),
      arena_(options.workers > 0 ? options.workers : num_threads()) {
  SL_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  SL_CHECK(options_.batch_size > 0, "DataLoader: batch size {} must be positive", options_.batch_size);
  SL_CHECK(options_.workers >= 0, "DataLoader: workers {} must be >= 0", options_.workers);
  SL_CHECK(options_.subset >= 0, "DataLoader: subset {} must be >= 0", options_.subset);
  SL_CHECK(options_.shard_count >= 1 && options_.shard_rank >= 0 && options_.shard_rank < options_.shard_count,
           "DataLoader: shard {} of {} does not exist", options_.shard_rank, options_.shard_count);
  size_ = dataset_->size();
  if (options_.subset > 0) size_ = std::min(size_, options_.subset);
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    ++generation_;  // the batch in progress, if any, stops at its next sample
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

int64_t DataLoader::batches_per_epoch() const {
  int64_t b = options_.batch_size;
  if (options_.drop_last || size_ % b == 0) return size_ / b;
  // A short last batch that cannot give every shard a sample is left out.
  return size_ / b + (size_ % b >= options_.shard_count || options_.allow_empty_shards ? 1 : 0);
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  SL_CHECK(epoch >= 0, "DataLoader::start_epoch: epoch {} must be non-negative", epoch);
  SL_CHECK(first_batch >= 0 && first_batch <= batches_per_epoch(),
           "DataLoader::start_epoch: first batch {} is outside [0, {}]", first_batch, batches_per_epoch());
  {
    // Whatever was queued or built for the previous epoch is dropped.
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    job_.reset();
    ready_.reset();
  }
  epoch_ = epoch;
  error_ = nullptr;
  launched_ = received_ = first_batch;
  skipped_ = 0;
  first_skip_.clear();
  reported_ = false;
  if (options_.shuffle) {
    order_ = shuffled_indices(size_, options_.seed, epoch);
  } else {
    order_.resize(static_cast<size_t>(size_));
    std::iota(order_.begin(), order_.end(), int64_t{0});
  }
  if (options_.prefetch) {
    if (!worker_.joinable()) worker_ = std::thread([this] { worker_loop(); });
    submit_next();
  }
}

std::vector<int64_t> DataLoader::batch_indices(int64_t number) const {
  int64_t begin = number * options_.batch_size, end = std::min(size_, begin + options_.batch_size);
  // This shard's rows of the global batch (all of them for one shard).
  const int64_t len = end - begin, shards = options_.shard_count;
  end = begin + len * (options_.shard_rank + 1) / shards;
  begin += len * options_.shard_rank / shards;
  return {order_.begin() + begin, order_.begin() + end};
}

void DataLoader::submit_next() {
  if (launched_ >= batches_per_epoch()) return;
  int64_t number = launched_++;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // The job carries its own copy of the indices: nothing it reads changes while it is built.
    job_ = Job{generation_.load(), number, epoch_, batch_indices(number)};
  }
  wake_.notify_all();
}

void DataLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || job_.has_value(); });
    if (stop_) return;
    Job job = std::move(*job_);
    job_.reset();
    lock.unlock();
    Result result;
    try {
      result.batch = build(job.number, job.epoch, std::move(job.indices), job.generation);
    } catch (...) {  // handed to the consumer by next(), never lost
      result.error = std::current_exception();
    }
    lock.lock();
    if (job.generation == generation_) {
      ready_ = std::move(result);
      wake_.notify_all();
    }
  }
}

std::optional<Batch> DataLoader::next() {
  if (epoch_ < 0) start_epoch(0);
  if (error_) std::rethrow_exception(error_);
  for (;;) {
    Result result;
    if (options_.prefetch) {
      if (received_ == launched_) break;  // nothing queued: the epoch is over
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return ready_.has_value(); });
        result = std::move(*ready_);
        ready_.reset();
      }
      ++received_;
      if (!result.error) submit_next();  // batch k+1 builds while the caller trains on batch k
    } else {
      if (launched_ == batches_per_epoch()) break;
      int64_t number = launched_++;
      ++received_;
      try {
        result.batch = build(number, epoch_, batch_indices(number), generation_);
      } catch (...) {
        result.error = std::current_exception();
      }
    }
    if (result.error) {
      error_ = result.error;
      std::rethrow_exception(error_);
    }
    Batch& batch = result.batch;
    if (!batch.skipped.empty() && first_skip_.empty()) first_skip_ = batch.skipped.front();
    skipped_ += static_cast<int64_t>(batch.skipped.size());
    // A batch whose every sample was skipped is passed over, except when sharded: every shard must
    // step through the same batches (the trainer treats an empty shard as one with no samples).
    if (!batch.indices.empty() || options_.shard_count > 1) return std::move(batch);
  }
  end_of_epoch_report();
  return std::nullopt;
}

void DataLoader::end_of_epoch_report() {
  if (reported_ || skipped_ == 0 || !options_.report_skipped) return;
  reported_ = true;
  fmt::print(stderr, "warning: epoch {}: skipped {} of {} images that could not be read or decoded (first: {})\n",
             epoch_, skipped_, size_, first_skip_);
}

Batch DataLoader::build(int64_t number, int64_t epoch, std::vector<int64_t> indices, uint64_t generation) const {
  auto cancelled = [&] { return generation_.load(std::memory_order_relaxed) != generation; };
  const auto n = static_cast<int64_t>(indices.size());
  std::vector<Image> images(static_cast<size_t>(n));
  std::vector<int32_t> labels(static_cast<size_t>(n));
  std::vector<std::string> skip_reason(static_cast<size_t>(n));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  // Pass 1, parallel: read, decode and augment each sample with its own (seed, epoch, index) RNG.
  arena_.execute([&] {
    parallel_rows(n, [&](int64_t i) {
      if (cancelled()) return;
      auto k = static_cast<size_t>(i);
      try {
        Sample s = dataset_->get(indices[k]);
        if (s.skipped) {
          skip_reason[k] = s.error.empty() ? dataset_->sample_name(indices[k]) : s.error;
          return;
        }
        labels[k] = s.label;
        SampleRng rng(options_.seed, epoch, indices[k]);
        try {
          images[k] = transform_.augment(std::move(s.image), rng);
        } catch (const Error& e) {
          fail("{}: {}", dataset_->sample_name(indices[k]), e.what());
        }
      } catch (...) {
        errors[k] = std::current_exception();
      }
    });
  });
  // The first failing row is reported, whichever thread failed first: the same error for any
  // worker count.
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  Batch batch;
  batch.number = number;
  if (cancelled()) return batch;
  // Keep the rows that were not skipped; they must all have one shape to form a batch.
  std::vector<size_t> rows;
  for (size_t k = 0; k < indices.size(); ++k) {
    if (!skip_reason[k].empty()) {
      batch.skipped.push_back(std::move(skip_reason[k]));
      continue;
    }
    const Image& a = images[k];
    if (!rows.empty()) {
      const Image& b = images[rows.front()];
      SL_CHECK(a.height == b.height && a.width == b.width && a.channels == b.channels,
               "{} is {}x{}x{} after the transforms but {} is {}x{}x{}: images in a batch need one size (add "
               "resize/center crop transforms)",
               dataset_->sample_name(indices[k]), a.channels, a.height, a.width,
               dataset_->sample_name(indices[rows.front()]), b.channels, b.height, b.width);
    }
    rows.push_back(k);
  }
  if (rows.empty()) return batch;
  const Image& first = images[rows.front()];
  try {
    transform_.check_channels(first.channels);
  } catch (const Error& e) {
    fail("{}: {}", dataset_->sample_name(indices[rows.front()]), e.what());
  }
  const auto rows_n = static_cast<int64_t>(rows.size());
  batch.images = Tensor::empty({rows_n, first.channels, first.height, first.width});
  batch.labels = Tensor::empty({rows_n}, DType::i32);
  const int64_t per_row = static_cast<int64_t>(first.channels) * first.height * first.width;
  float* out = batch.images.data<float>();
  int32_t* lab = batch.labels.data<int32_t>();
  // Pass 2, parallel: bytes to normalised floats, straight into the batch tensor.
  arena_.execute([&] {
    parallel_rows(rows_n, [&](int64_t r) {
      size_t k = rows[static_cast<size_t>(r)];
      transform_.to_tensor(images[k], out + r * per_row);
    });
  });
  for (int64_t r = 0; r < rows_n; ++r) {
    size_t k = rows[static_cast<size_t>(r)];
    lab[r] = labels[k];
    batch.indices.push_back(indices[k]);
  }
  return batch;
}

}  // namespace sl::data
