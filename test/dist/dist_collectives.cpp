// The MPI communicator and the replica checks, run as 3 ranks by CTest (`mpirun -np 3`; 3, because
// with 2 ranks every order of the additions gives the same float). Exits non-zero on any rank whose
// check fails; prints what failed.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "dist/communicator.h"
#include "dist/device_allreduce.h"
#include "engine/error.h"
#include "engine/factory.h"
#include "layers/linear.h"
#include "train/data_parallel.h"
#include "train/run_config.h"

namespace {

int failures = 0;

void expect(bool ok, const std::string& what, int rank) {
  if (ok) return;
  ++failures;
  fmt::print(stderr, "rank {}: FAILED: {}\n", rank, what);
}

// Values whose float sum depends on the order of the additions.
float value(int rank, int64_t i) {
  const float scale[] = {1e8f, -1e8f, 3.14159f};
  return scale[rank % 3] + static_cast<float>(i % 17) * 0.1f + static_cast<float>(rank) * 1e-3f;
}

}  // namespace

int main() {
  using namespace sl;
  dist::Communicator& comm = dist::world();
  const int rank = comm.rank(), size = comm.size();
  expect(size == 3, fmt::format("expected 3 ranks, got {}", size), rank);

  // allreduce_sum: each element summed in rank order, whatever the length or how it is split.
  for (int64_t n : {1, 2, 7, 1000, 100003}) {
    std::vector<float> data(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) data[static_cast<size_t>(i)] = value(rank, i);
    std::vector<float> halves = data;
    comm.allreduce_sum(data.data(), n);
    comm.allreduce_sum(halves.data(), n / 2);
    comm.allreduce_sum(halves.data() + n / 2, n - n / 2);
    int64_t wrong = 0, split_differs = 0;
    for (int64_t i = 0; i < n; ++i) {
      float want = value(0, i);
      for (int r = 1; r < size; ++r) want += value(r, i);
      wrong += data[static_cast<size_t>(i)] != want;
      split_differs += halves[static_cast<size_t>(i)] != data[static_cast<size_t>(i)];
    }
    expect(wrong == 0, fmt::format("float allreduce of {}: {} elements not the rank-order sum", n, wrong), rank);
    expect(split_differs == 0, fmt::format("float allreduce of {} in two calls differs in {} elements", n, split_differs),
           rank);
  }
  std::vector<double> d{static_cast<double>(rank) + 0.5, 1e300 * (rank == 1 ? 1 : 0)};
  comm.allreduce_sum(d.data(), 2);
  expect(d[0] == 0.5 + 1.5 + 2.5 && d[1] == 1e300, "double allreduce", rank);

  // broadcast
  uint64_t word = rank == 1 ? 0x0123456789abcdefull : 0;
  comm.broadcast(&word, sizeof word, 1);
  expect(word == 0x0123456789abcdefull, "broadcast from rank 1", rank);
  std::vector<uint64_t> all = all_gather(comm, static_cast<uint64_t>(rank) << 40 | 7u);
  expect(all.size() == 3 && all[2] == (uint64_t{2} << 40 | 7u), "all_gather of 64-bit values", rank);

  // The replica check passes on equal models and names the tensor and rank that differ.
  auto model = std::make_shared<Linear>(LinearOptions(4, 3));
  for (auto& [name, p] : model->named_parameters()) copy_data(p, full_like(p, 0.25));
  std::string error;
  try {
    check_replicas_equal(comm, *model, "after epoch 0");
  } catch (const Error& e) {
    error = e.what();
  }
  expect(error.empty(), "equal replicas reported as different: " + error, rank);
  if (rank == 2) copy_data(model->bias(), full_like(model->bias(), 0.5));
  error.clear();
  try {
    check_replicas_equal(comm, *model, "after epoch 1");
  } catch (const Error& e) {
    error = e.what();
  }
  expect(error.find("after epoch 1: 'bias' on rank 2") != std::string::npos,
         "a differing bias on rank 2 gave: '" + error + "'", rank);

  // Ranks started with different configs: the odd rank is told which key differs.
  RunConfig config;
  if (rank == 1) config.lr = 0.5;
  error.clear();
  try {
    check_same_config(comm, to_json(config));
  } catch (const Error& e) {
    error = e.what();
  }
  if (rank == 1)
    expect(error.find("lr (0.5 here, 0.01 on rank 0)") != std::string::npos, "config mismatch gave: '" + error + "'",
           rank);
  else
    expect(error.empty(), "config mismatch reported on an agreeing rank: " + error, rank);

  // The device all-reduce (NCCL or CUDA-aware MPI) equals the host path bit for bit; without a GPU
  // there is none and device gradients are staged through the host.
  std::unique_ptr<dist::DeviceAllReduce> device = dist::make_device_allreduce(comm);
  if (!cuda_available()) {
    expect(device == nullptr, "a device all-reduce without a GPU", rank);
    if (rank == 0) fmt::print("dist collectives: no GPU, device all-reduce not run ({})\n", cuda_unavailable_reason());
  } else if (device == nullptr) {
    if (rank == 0) fmt::print("dist collectives: GPU but neither NCCL nor CUDA-aware MPI: host staging only\n");
  } else {
    for (int64_t n : {1, 2, 7, 1000, 100003}) {
      std::vector<float> host(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) host[static_cast<size_t>(i)] = value(rank, i);
      Tensor t = Tensor::empty({n}, DType::f32, Device::cpu);
      std::copy(host.begin(), host.end(), t.data<float>());
      Tensor on_device = t.to(Device::cuda);
      device->sum(on_device.data<float>(), n);
      comm.allreduce_sum(host.data(), n);
      Tensor back = on_device.to(Device::cpu);
      int64_t differ = 0;
      for (int64_t i = 0; i < n; ++i) differ += back.data<float>()[i] != host[static_cast<size_t>(i)];
      expect(differ == 0, fmt::format("{} allreduce of {} on the device differs from the host's in {} elements",
                                      device->describe(), n, differ),
             rank);
    }
  }

  comm.barrier();
  if (failures == 0 && rank == 0) fmt::print("dist collectives: all checks passed on {} ranks\n", size);
  return failures == 0 ? 0 : 1;
}
