// The pieces of data-parallel training around a communicator (docs/distributed.md): the gradient
// all-reduce in buckets, the replica check after each epoch, the agreement of the ranks on the run
// config, and gathering a per-rank counter for the checkpoint.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "dist/device_allreduce.h"
#include "layers/module.h"

namespace sl {

// Sums the ranks' gradients into every rank's, bucket by bucket in parameter order. CPU gradients
// are copied into the bucket straight from their storage; device (CUDA) gradients are summed on the
// device over NCCL or a CUDA-aware MPI when there is one (dist/device_allreduce.h), else staged
// through host memory; every path adds in the same rank order, so they agree bit for bit. A
// parameter without a gradient on some rank counts as zero there; it gets the sum when any rank
// has one (and keeps none when no rank has).
//
// Overlap with the backward pass (CPU gradients, when overlap_allowed and the MPI library takes calls
// from a second thread): begin() before backward arms a hook on every parameter; each bucket, in
// reverse parameter order (the order backward completes them), is packed when its last gradient is
// final and summed on a communication thread while backward goes on; finish() sends what is left,
// waits and unpacks. The sums are run()'s, bit for bit. SHIFTLAB_ALLREDUCE_OVERLAP=on|off|auto
// (auto, the default: on when the ranks span several machines, where the network transfer can run
// beside the computation; on one machine the copies compete with it for the same cores), and
// SHIFTLAB_ALLREDUCE_BUCKET_MB sets the bucket size (default 16 MB).
class GradientAllReduce {
 public:
  // bucket_elements: floats per all-reduce call (the last bucket may be shorter; a parameter is
  // never split). overlap_allowed: false when backward itself calls the communicator (--sync-bn).
  GradientAllReduce(dist::Communicator& comm, const Module& model, int64_t bucket_elements = int64_t{1} << 22,
                    bool overlap_allowed = true);
  ~GradientAllReduce();
  GradientAllReduce(const GradientAllReduce&) = delete;
  GradientAllReduce& operator=(const GradientAllReduce&) = delete;
  // grad <- sum over ranks r of weight_r * grad_r (weight: this rank's share of the global batch,
  // n_r / n, so the result is the gradient of the global batch's mean loss).
  void run(double weight);
  bool overlaps() const { return overlap_; }
  void begin(double weight);  // overlaps() only: before backward
  void finish();              // after it
  // "on the host", "staged through the host", "on the device over NCCL 2.27.3", ...
  std::string describe() const;
  // Spent in run() / finish() since construction: with overlap, the wait the backward pass did not
  // hide; on the NCCL path the time to queue the work on the stream.
  double seconds() const { return seconds_; }
  int64_t calls() const { return calls_; }

 private:
  void sum_bucket_on_host(size_t first, size_t end, float weight);
  void sum_bucket_on_device(size_t first, size_t end, float weight);
  // Overlap: a parameter's gradient is final; packing bucket b; the communication thread.
  void on_grad_final(size_t param);
  void launch(size_t bucket);
  struct Overlap;
  static void communicate(Overlap& ov, dist::Communicator& comm);

  std::unique_ptr<Overlap> ov_;
  bool overlap_ = false;

  dist::Communicator& comm_;
  std::unique_ptr<dist::DeviceAllReduce> device_;  // null: CPU gradients, or device ones staged
  std::vector<Tensor> params_;
  std::vector<size_t> bucket_ends_;  // params_[previous end, end) form one bucket
  std::vector<float> buffer_;
  std::vector<double> has_grad_;
  double seconds_ = 0;
  int64_t calls_ = 0;
};

// Throws (on every rank) unless every parameter and buffer is bitwise equal on all ranks; the
// message names the first tensor that differs and the ranks. `when` says where ("after epoch 3").
void check_replicas_equal(dist::Communicator& comm, const Module& model, const std::string& when);
// Copies rank 0's buffers (batch norm running statistics) to every rank.
void broadcast_buffers(dist::Communicator& comm, Module& model);
// Throws on a rank whose resolved run config differs from rank 0's, naming the keys.
void check_same_config(dist::Communicator& comm, const nlohmann::ordered_json& config);
// Every rank's `value`, in rank order, on every rank.
std::vector<uint64_t> all_gather(dist::Communicator& comm, uint64_t value);

}  // namespace sl
