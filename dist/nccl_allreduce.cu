// The device all-reduce over NCCL (compiled with SHIFTLAB_WITH_NCCL; a CUDA file, for the backend's
// stream). NCCL's own ncclAllReduce picks its algorithm (ring, tree) and so the order of the
// additions by message size and rank count; this keeps shiftlab's rank order instead: grouped
// point-to-point sends give every rank all copies of its chunk, one kernel adds them in rank order,
// and the chunks go back to every rank. The traffic per rank is that of a ring all-reduce,
// 2 (N-1)/N of the buffer. Everything is queued on the backend's stream: no host synchronisation.
#include <nccl.h>

#include <fmt/format.h>

#include <algorithm>

#include "backends/cuda/check.cuh"
#include "backends/cuda/common.cuh"
#include "dist/chunks.h"
#include "dist/device_allreduce.h"
#include "engine/error.h"
#include "engine/factory.h"

namespace sl::dist {

namespace {

void check_nccl(ncclResult_t code, const char* what) {
  if (code == ncclSuccess) return;
  fail("NCCL {} failed: {}", what, ncclGetErrorString(code));
}

class NcclAllReduce final : public DeviceAllReduce {
 public:
  explicit NcclAllReduce(Communicator& comm) : rank_(comm.rank()), size_(comm.size()) {
    ncclUniqueId id{};
    if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    comm.broadcast(&id, static_cast<int64_t>(sizeof id), 0);  // NCCL's bootstrap address, over MPI
    check_nccl(ncclCommInitRank(&nccl_, size_, id, rank_), "ncclCommInitRank");
  }
  ~NcclAllReduce() override { ncclCommDestroy(nccl_); }
  NcclAllReduce(const NcclAllReduce&) = delete;
  NcclAllReduce& operator=(const NcclAllReduce&) = delete;

  void sum(float* data, int64_t n) override {
    for (int64_t begin = 0; begin < n; begin += kAllReducePiece) piece(data + begin, std::min(kAllReducePiece, n - begin));
  }

  std::string describe() const override {
    int version = 0;
    ncclGetVersion(&version);
    return fmt::format("NCCL {}.{}.{}", version / 10000, version / 100 % 100, version % 100);
  }

 private:
  void piece(float* data, int64_t n) {
    const Chunks c = split_into_chunks(n, size_, rank_);
    const auto at = [](int v) { return static_cast<size_t>(v); };
    Tensor copies = Tensor::empty({std::max<int64_t>(1, int64_t{size_} * c.mine)}, DType::f32, Device::cuda);
    float* received = copies.data<float>();
    cudaStream_t stream = cuda::stream();
    // Every rank's copy of my chunk, in rank order (my own by a device copy).
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    for (int q = 0; q < size_; ++q) {
      if (q == rank_) continue;
      if (c.counts[at(q)] > 0)
        check_nccl(ncclSend(data + c.displs[at(q)], static_cast<size_t>(c.counts[at(q)]), ncclFloat, q, nccl_, stream),
                   "ncclSend");
      if (c.mine > 0)
        check_nccl(ncclRecv(received + int64_t{q} * c.mine, static_cast<size_t>(c.mine), ncclFloat, q, nccl_, stream),
                   "ncclRecv");
    }
    check_nccl(ncclGroupEnd(), "ncclGroupEnd");
    float* mine = data + c.displs[at(rank_)];
    if (c.mine > 0) {
      SL_CUDA_CHECK(cudaMemcpyAsync(received + int64_t{rank_} * c.mine, mine, sizeof(float) * static_cast<size_t>(c.mine),
                                    cudaMemcpyDeviceToDevice, stream));
      ordered_sum_on_device(received, size_, c.mine, mine);
    }
    // My summed chunk to every rank, theirs from them.
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    for (int q = 0; q < size_; ++q) {
      if (q == rank_) continue;
      if (c.mine > 0) check_nccl(ncclSend(mine, static_cast<size_t>(c.mine), ncclFloat, q, nccl_, stream), "ncclSend");
      if (c.counts[at(q)] > 0)
        check_nccl(ncclRecv(data + c.displs[at(q)], static_cast<size_t>(c.counts[at(q)]), ncclFloat, q, nccl_, stream),
                   "ncclRecv");
    }
    check_nccl(ncclGroupEnd(), "ncclGroupEnd");
    // `copies` goes back to the caching allocator; later work on the same stream runs after the sum.
  }

  int rank_, size_;
  ncclComm_t nccl_ = nullptr;
};

}  // namespace

std::unique_ptr<DeviceAllReduce> make_nccl_allreduce(Communicator& comm) { return std::make_unique<NcclAllReduce>(comm); }

}  // namespace sl::dist
