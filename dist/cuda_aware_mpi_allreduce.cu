// The device all-reduce over a CUDA-aware MPI (compiled with MPI and CUDA; used when the MPI library
// reports CUDA support and NCCL is not built in): the host path's MPI_Alltoallv / MPI_Allgatherv
// (dist/mpi_communicator.cpp) on device pointers, with the rank-ordered sum as a kernel. MPI does
// not know the backend's stream, so the queued work is waited for before each MPI call.
#include <mpi.h>

#include <algorithm>

#include "backends/cuda/check.cuh"
#include "backends/cuda/common.cuh"
#include "dist/chunks.h"
#include "dist/device_allreduce.h"
#include "dist/mpi_check.h"
#include "engine/error.h"
#include "engine/factory.h"

namespace sl::dist {

namespace {

class CudaAwareMpiAllReduce final : public DeviceAllReduce {
 public:
  explicit CudaAwareMpiAllReduce(Communicator& comm) : rank_(comm.rank()), size_(comm.size()) {}

  void sum(float* data, int64_t n) override {
    for (int64_t begin = 0; begin < n; begin += kAllReducePiece) piece(data + begin, std::min(kAllReducePiece, n - begin));
  }
  std::string describe() const override { return "CUDA-aware MPI"; }

 private:
  void piece(float* data, int64_t n) {
    const Chunks c = split_into_chunks(n, size_, rank_);
    Tensor copies = Tensor::empty({std::max<int64_t>(1, int64_t{size_} * c.mine)}, DType::f32, Device::cuda);
    float* received = copies.data<float>();
    SL_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));  // the gradients are written
    check_mpi(MPI_Alltoallv(data, c.counts.data(), c.displs.data(), MPI_FLOAT, received, c.recv_counts.data(),
                            c.recv_displs.data(), MPI_FLOAT, MPI_COMM_WORLD),
              "MPI_Alltoallv");
    ordered_sum_on_device(received, size_, c.mine, data + c.displs[static_cast<size_t>(rank_)]);
    SL_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));  // the chunk is summed (and `copies` unused)
    check_mpi(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, data, c.counts.data(), c.displs.data(), MPI_FLOAT,
                             MPI_COMM_WORLD),
              "MPI_Allgatherv");
  }

  int rank_, size_;
};

}  // namespace

std::unique_ptr<DeviceAllReduce> make_cuda_aware_mpi_allreduce(Communicator& comm) {
  return std::make_unique<CudaAwareMpiAllReduce>(comm);
}

}  // namespace sl::dist
