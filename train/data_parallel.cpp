#include "train/data_parallel.h"

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "autograd/node.h"
#include "backends/cpu/denormals.h"
#include "autograd/ops.h"
#include "engine/error.h"
#include "engine/factory.h"

namespace sl {

namespace {

// Every rank's values (the same count on each), rank-major, on every rank. A double holds 32 bits
// exactly, so each 64-bit value travels as two halves through the sum of zero-padded slots.
std::vector<uint64_t> all_gather(dist::Communicator& comm, const std::vector<uint64_t>& values) {
  const size_t n = values.size(), ranks = static_cast<size_t>(comm.size()), me = static_cast<size_t>(comm.rank());
  std::vector<double> slots(2 * n * ranks, 0.0);
  for (size_t i = 0; i < n; ++i) {
    slots[2 * (me * n + i)] = static_cast<double>(values[i] >> 32);
    slots[2 * (me * n + i) + 1] = static_cast<double>(values[i] & 0xffffffffu);
  }
  comm.allreduce_sum(slots.data(), static_cast<int64_t>(slots.size()));
  std::vector<uint64_t> out(n * ranks);
  for (size_t k = 0; k < out.size(); ++k)
    out[k] = (static_cast<uint64_t>(slots[2 * k]) << 32) | static_cast<uint64_t>(slots[2 * k + 1]);
  return out;
}

// FNV-1a over a tensor's bytes (host copy).
uint64_t checksum(const Tensor& t) {
  Tensor host = t.to(Device::cpu);
  const auto* p = static_cast<const unsigned char*>(host.raw_data());
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < host.nbytes(); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace

std::vector<uint64_t> all_gather(dist::Communicator& comm, uint64_t value) {
  return all_gather(comm, std::vector<uint64_t>{value});
}

// The state of an overlapped all-reduce (GradientAllReduce's class comment).
struct GradientAllReduce::Overlap {
  std::vector<size_t> bucket_of;              // per parameter
  std::vector<std::vector<float>> buffers;    // per bucket: weighted gradients, then one flag per parameter
  std::vector<size_t> ready;                  // per bucket: parameters whose gradient is final this step
  int64_t next_launch = -1;                   // buckets launch from the last down to 0
  float weight = 0;
  bool armed = false;
  // The communication thread's queue of buckets, and how many it has summed this step.
  std::mutex mutex;
  std::condition_variable wake, done;
  std::deque<size_t> queue;
  size_t summed = 0, launched = 0;
  bool quit = false;
  std::exception_ptr error;
  std::thread thread;
};

namespace {

bool want_overlap(const dist::Communicator& comm) {
  const char* env = std::getenv("SHIFTLAB_ALLREDUCE_OVERLAP");
  const std::string v = env == nullptr ? "auto" : env;
  SL_CHECK(v == "auto" || v == "on" || v == "off", "SHIFTLAB_ALLREDUCE_OVERLAP is '{}': use auto, on or off", v);
  return v == "on" || (v == "auto" && comm.machines() > 1);
}

// SHIFTLAB_ALLREDUCE_BUCKET_MB (as DDP's bucket_cap_mb): floats per bucket, else the default.
int64_t bucket_floats(int64_t fallback) {
  const char* env = std::getenv("SHIFTLAB_ALLREDUCE_BUCKET_MB");
  if (env == nullptr) return fallback;
  char* end = nullptr;
  const double mb = std::strtod(env, &end);
  SL_CHECK(end != env && *end == '\0' && mb > 0 && mb <= 4096,
           "SHIFTLAB_ALLREDUCE_BUCKET_MB is '{}': a size in MB in (0, 4096]", env);
  return std::max<int64_t>(1, static_cast<int64_t>(mb * 1024 * 1024 / sizeof(float)));
}

}  // namespace

GradientAllReduce::GradientAllReduce(dist::Communicator& comm, const Module& model, int64_t bucket_elements,
                                     bool overlap_allowed)
    : comm_(comm) {
  bucket_elements = bucket_floats(bucket_elements);
  int64_t in_bucket = 0, largest = 0;
  for (const Tensor& p : model.parameters()) {
    if (!p.requires_grad()) continue;
    SL_CHECK(p.dtype() == DType::f32, "data-parallel training needs f32 parameters, got {}", dtype_name(p.dtype()));
    if (in_bucket > 0 && in_bucket + p.numel() > bucket_elements) {
      bucket_ends_.push_back(params_.size());
      in_bucket = 0;
    }
    params_.push_back(p);
    in_bucket += p.numel();
    largest = std::max(largest, in_bucket);
  }
  bucket_ends_.push_back(params_.size());
  has_grad_.resize(params_.size());
  const bool on_host = params_.empty() || params_.front().device() == Device::cpu;
  device_ = dist::make_device_allreduce(comm, !on_host);
  if (!device_) buffer_.resize(static_cast<size_t>(largest));
  overlap_ = want_overlap(comm) && overlap_allowed && on_host && comm.size() > 1 && comm.serialized_threads();
  if (!overlap_) return;
  ov_ = std::make_unique<Overlap>();
  size_t first = 0;
  for (size_t b = 0; b < bucket_ends_.size(); ++b) {
    int64_t floats = 0;
    for (size_t i = first; i < bucket_ends_[b]; ++i) {
      ov_->bucket_of.push_back(b);
      floats += params_[i].numel() + 1;
      params_[i].impl()->autograd->grad_final_hook = [this, i] { on_grad_final(i); };
    }
    ov_->buffers.emplace_back(static_cast<size_t>(floats));
    first = bucket_ends_[b];
  }
  ov_->ready.assign(bucket_ends_.size(), 0);
  // The thread sees only the state and the communicator (see the destructor).
  ov_->thread = std::thread([ov = ov_.get(), c = &comm_] { communicate(*ov, *c); });
}

GradientAllReduce::~GradientAllReduce() {
  if (!ov_) return;
  for (Tensor& p : params_) p.impl()->autograd->grad_final_hook = nullptr;
  bool busy = false;
  {
    std::lock_guard<std::mutex> lock(ov_->mutex);
    ov_->quit = true;
    busy = ov_->summed != ov_->launched;
  }
  if (busy) {
    // Unwinding from an error in the middle of a step: the thread may wait in a collective for
    // ranks that will never join it, and the process is about to end with MPI_Abort. Leave it
    // (and the state it uses) behind rather than hang in join().
    ov_->thread.detach();
    (void)ov_.release();
    return;
  }
  ov_->wake.notify_one();
  ov_->thread.join();
}

void GradientAllReduce::begin(double weight) {
  SL_CHECK(overlap_ && !ov_->armed, "GradientAllReduce::begin: no overlap, or finish() was not called");
  ov_->weight = static_cast<float>(weight);
  std::fill(ov_->ready.begin(), ov_->ready.end(), 0);
  ov_->next_launch = static_cast<int64_t>(bucket_ends_.size()) - 1;
  ov_->summed = ov_->launched = 0;
  ov_->armed = true;
}

void GradientAllReduce::on_grad_final(size_t param) {
  if (!ov_->armed) return;  // a backward outside a step (none in training)
  const size_t b = ov_->bucket_of[param];
  ++ov_->ready[b];
  auto complete = [&](int64_t k) {
    const size_t first = k == 0 ? 0 : bucket_ends_[static_cast<size_t>(k) - 1];
    return ov_->ready[static_cast<size_t>(k)] == bucket_ends_[static_cast<size_t>(k)] - first;
  };
  // In a fixed order on every rank (the collectives must match): the last bucket first, each once
  // it and every later one are complete.
  while (ov_->next_launch >= 0 && complete(ov_->next_launch)) launch(static_cast<size_t>(ov_->next_launch--));
}

void GradientAllReduce::launch(size_t bucket) {
  const size_t first = bucket == 0 ? 0 : bucket_ends_[bucket - 1], end = bucket_ends_[bucket];
  float* at = ov_->buffers[bucket].data();
  float* flags = at + ov_->buffers[bucket].size() - (end - first);
  for (size_t i = first; i < end; ++i) {
    const auto n = static_cast<size_t>(params_[i].numel());
    Tensor g = params_[i].grad();
    flags[i - first] = g.defined() ? 1.0f : 0.0f;
    if (!g.defined()) {
      std::fill(at, at + n, 0.0f);
    } else {
      const float* src = g.data<float>();
      for (size_t k = 0; k < n; ++k) at[k] = src[k] * ov_->weight;  // run()'s products
    }
    at += n;
  }
  {
    std::lock_guard<std::mutex> lock(ov_->mutex);
    ov_->queue.push_back(bucket);
    ++ov_->launched;
  }
  ov_->wake.notify_one();
}

void GradientAllReduce::communicate(Overlap& ov, dist::Communicator& comm) {
  // The rank-ordered sums run here instead of on the main thread: with its floating-point mode (the
  // CPU backend reads and writes subnormals as zero), or the bits would differ.
  cpu::flush_denormals_on_this_thread();
  for (;;) {
    size_t bucket = 0;
    {
      std::unique_lock<std::mutex> lock(ov.mutex);
      ov.wake.wait(lock, [&] { return ov.quit || !ov.queue.empty(); });
      if (ov.queue.empty()) return;  // quit
      bucket = ov.queue.front();
      ov.queue.pop_front();
    }
    try {
      if (!ov.error) comm.allreduce_sum(ov.buffers[bucket].data(), static_cast<int64_t>(ov.buffers[bucket].size()));
    } catch (...) {
      std::lock_guard<std::mutex> lock(ov.mutex);
      ov.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(ov.mutex);
      ++ov.summed;
    }
    ov.done.notify_one();
  }
}

void GradientAllReduce::finish() {
  SL_CHECK(overlap_ && ov_->armed, "GradientAllReduce::finish without begin");
  auto start = std::chrono::steady_clock::now();
  // Buckets whose hooks did not all fire (parameters the loss does not reach), in the same order.
  while (ov_->next_launch >= 0) launch(static_cast<size_t>(ov_->next_launch--));
  {
    std::unique_lock<std::mutex> lock(ov_->mutex);
    ov_->done.wait(lock, [&] { return ov_->summed == ov_->launched; });
  }
  ov_->armed = false;
  if (ov_->error) std::rethrow_exception(ov_->error);
  size_t first = 0;
  for (size_t b = 0; b < bucket_ends_.size(); ++b) {
    const size_t end = bucket_ends_[b];
    const float* at = ov_->buffers[b].data();
    const float* flags = at + ov_->buffers[b].size() - (end - first);
    for (size_t i = first; i < end; ++i) {
      const Tensor& p = params_[i];
      const auto n = static_cast<size_t>(p.numel());
      if (flags[i - first] > 0) {
        Tensor g = Tensor::empty(p.shape(), DType::f32, Device::cpu);
        std::memcpy(g.data<float>(), at, n * sizeof(float));
        p.set_grad(g);
      }
      at += n;
    }
    first = end;
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++calls_;
}

void GradientAllReduce::run(double weight) {
  if (comm_.size() == 1) return;
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < params_.size(); ++i) has_grad_[i] = params_[i].grad().defined() ? 1 : 0;
  comm_.allreduce_sum(has_grad_.data(), static_cast<int64_t>(has_grad_.size()));
  const auto w = static_cast<float>(weight);
  size_t first = 0;
  for (size_t end : bucket_ends_) {
    if (device_) sum_bucket_on_device(first, end, w);
    else sum_bucket_on_host(first, end, w);
    first = end;
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++calls_;
}

std::string GradientAllReduce::describe() const {
  if (device_) return "on the device over " + device_->describe();
  const bool on_host = params_.empty() || params_.front().device() == Device::cpu;
  if (overlap_) return "on the host, overlapped with the backward pass";
  return on_host ? "on the host" : "staged through the host";
}

void GradientAllReduce::sum_bucket_on_host(size_t first, size_t end, float w) {
  // Pack this rank's weighted gradients (zeros where it has none), sum over the ranks, unpack.
  float* at = buffer_.data();
  for (size_t i = first; i < end; ++i) {
    const auto n = static_cast<size_t>(params_[i].numel());
    Tensor g = params_[i].grad();
    if (!g.defined()) {
      std::fill(at, at + n, 0.0f);
    } else {
      Tensor host = g.to(Device::cpu);  // a no-op for CPU gradients; host staging for device ones
      const float* src = host.data<float>();
      for (size_t k = 0; k < n; ++k) at[k] = src[k] * w;
    }
    at += n;
  }
  comm_.allreduce_sum(buffer_.data(), at - buffer_.data());
  at = buffer_.data();
  for (size_t i = first; i < end; ++i) {
    const Tensor& p = params_[i];
    const auto n = static_cast<size_t>(p.numel());
    if (has_grad_[i] > 0) {
      Tensor g = Tensor::empty(p.shape(), DType::f32, Device::cpu);
      std::memcpy(g.data<float>(), at, n * sizeof(float));
      p.set_grad(g.to(p.device()));
    }
    at += n;
  }
}

void GradientAllReduce::sum_bucket_on_device(size_t first, size_t end, float w) {
  NoGradGuard no_grad;
  // The bucket as one device tensor of this rank's weighted gradients (zeros where it has none):
  // the same float products as the host path.
  const Device device = params_[first].device();
  const Tensor scale = scalar_tensor(w, DType::f32, device);
  TensorList parts;
  for (size_t i = first; i < end; ++i) {
    const Tensor& p = params_[i];
    Tensor g = p.grad();
    parts.push_back(g.defined() ? reshape(mul(g, scale), {p.numel()}) : zeros({p.numel()}, DType::f32, device));
  }
  Tensor bucket = parts.size() == 1 ? parts.front() : cat(parts, 0);
  device_->sum(bucket.data<float>(), bucket.numel());
  int64_t at = 0;
  for (size_t i = first; i < end; ++i) {
    const Tensor& p = params_[i];
    if (has_grad_[i] > 0) p.set_grad(clone(bucket.slice(at, at + p.numel()).reshape(p.shape())));
    at += p.numel();
  }
}

void check_replicas_equal(dist::Communicator& comm, const Module& model, const std::string& when) {
  if (comm.size() == 1) return;
  NamedTensors state = model.state_dict();
  std::vector<uint64_t> mine;
  for (const auto& kv : state) mine.push_back(checksum(kv.second));
  std::vector<uint64_t> all = all_gather(comm, mine);
  const size_t n = mine.size();
  for (size_t r = 1; r < static_cast<size_t>(comm.size()); ++r)
    for (size_t i = 0; i < n; ++i)
      SL_CHECK(all[r * n + i] == all[i],
               "the ranks' models differ {}: '{}' on rank {} (checksum {:016x}) is not rank 0's ({:016x}); the "
               "replicas must stay equal, so the run stops (the last checkpoint is of the epoch before)",
               when, state[i].first, r, all[r * n + i], all[i]);
}

void broadcast_buffers(dist::Communicator& comm, Module& model) {
  if (comm.size() == 1) return;
  for (auto& [name, t] : model.named_buffers()) {
    Tensor host = t.to(Device::cpu);  // t itself on the CPU: received in place
    comm.broadcast(host.raw_data(), static_cast<int64_t>(host.nbytes()), 0);
    if (t.device() != Device::cpu) copy_data(t, host.to(t.device()));
  }
}

void check_same_config(dist::Communicator& comm, const nlohmann::ordered_json& config) {
  if (comm.size() == 1) return;
  std::string text = config.dump();
  uint64_t length = text.size();
  comm.broadcast(&length, sizeof length, 0);
  std::string root(length, '\0');
  if (comm.rank() == 0) root = text;
  comm.broadcast(root.data(), static_cast<int64_t>(length), 0);
  if (root == text) return;
  nlohmann::json theirs = nlohmann::json::parse(root), ours = nlohmann::json::parse(text);
  std::string keys;
  for (auto& [key, value] : ours.items())
    if (!theirs.contains(key) || theirs[key] != value)
      keys += fmt::format("{}{} ({} here, {} on rank 0)", keys.empty() ? "" : ", ", key, value.dump(),
                          theirs.contains(key) ? theirs[key].dump() : "absent");
  fail("rank {} was started with another run config than rank 0: {}; start every rank with the same flags",
       comm.rank(), keys.empty() ? std::string("keys differ") : keys);
}

}  // namespace sl
