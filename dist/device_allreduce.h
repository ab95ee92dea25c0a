// The ranks' sum of a float buffer in CUDA device memory, added in rank order over the same chunks
// as Communicator::allreduce_sum (dist/chunks.h), so it equals the host path bit for bit, without
// staging through host memory: over NCCL when shiftlab was built with it, else over an MPI library
// that takes device pointers (CUDA-aware MPI). docs/distributed.md.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "dist/communicator.h"

namespace sl::dist {

class DeviceAllReduce {
 public:
  virtual ~DeviceAllReduce() = default;
  // data: n floats on the CUDA backend's device, written by work queued on its stream. The sum is
  // queued on that stream too (later kernels see it).
  virtual void sum(float* data, int64_t n) = 0;
  virtual std::string describe() const = 0;  // "NCCL 2.27.3", "CUDA-aware MPI"
};

// Null for host gradients (device_gradients false), when the run has one rank, no GPU is usable, or
// neither NCCL nor a CUDA-aware MPI is there: then device gradients are staged through host memory.
// SHIFTLAB_DEVICE_ALLREDUCE=host forces that (nccl / mpi ask for one path and fail when it is not
// available); a value it does not know is an error whatever the gradients.
std::unique_ptr<DeviceAllReduce> make_device_allreduce(Communicator& comm, bool device_gradients = true);

#ifdef SHIFTLAB_WITH_CUDA
// out[i] = copies[0][i] + copies[1][i] + ... + copies[ranks-1][i], added in that order (the host
// path's order), for i < count, queued on the backend's stream (dist/ordered_sum.cu).
void ordered_sum_on_device(const float* copies, int ranks, int64_t count, float* out);
std::unique_ptr<DeviceAllReduce> make_nccl_allreduce(Communicator& comm);
std::unique_ptr<DeviceAllReduce> make_cuda_aware_mpi_allreduce(Communicator& comm);
#endif

}  // namespace sl::dist
