// The MPI communicator (compiled with SHIFTLAB_WITH_MPI). MPI is initialised on first use and
// finalised at exit; MPI's default error handler ends the whole job when a peer dies.
//
// allreduce_sum is written here, not left to MPI_Allreduce: MPI does not promise an order of the
// additions (Open MPI picks its algorithm, and so the order, by message size and rank count). Here
// every rank owns one contiguous chunk of the buffer, receives that chunk from every rank
// (MPI_Alltoallv), adds the copies in rank order 0..N-1, and the chunks are gathered back
// (MPI_Allgatherv): each element is summed in the same order whatever the buffer's length, and the
// traffic per rank is 2 (N-1)/N of the buffer, as a ring all-reduce's.
#include <mpi.h>
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>  // MPIX_CUDA_AWARE_SUPPORT (Open MPI)
#endif

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "dist/chunks.h"
#include "dist/communicator.h"
#include "dist/mpi_check.h"
#include "engine/error.h"

namespace sl::dist {

namespace {

template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <>
MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // The main thread calls MPI, and the overlapped gradient all-reduce's communication thread
      // while the main thread does not (oneTBB workers never do).
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
      owns_init_ = true;
    }
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    serialized_ = level >= MPI_THREAD_SERIALIZED;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node;
    check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
              "MPI_Comm_split_type");
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_free(&node);
    int first_on_node = local_rank_ == 0;
    check_mpi(MPI_Allreduce(&first_on_node, &machines_, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_init_ && !finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }
  int local_rank() const override { return local_rank_; }
  int machines() const override { return machines_; }
  bool serialized_threads() const override { return serialized_; }
  void allreduce_sum(float* data, int64_t n) override { ordered_allreduce(data, n); }
  void allreduce_sum(double* data, int64_t n) override { ordered_allreduce(data, n); }

  void broadcast(void* data, int64_t bytes, int root) override {
    auto* p = static_cast<char*>(data);
    for (int64_t done = 0; done < bytes;) {
      int piece = static_cast<int>(std::min<int64_t>(bytes - done, int64_t{1} << 30));
      check_mpi(MPI_Bcast(p + done, piece, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
      done += piece;
    }
  }
  void barrier() override { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  [[noreturn]] void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::exit(exit_code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

  std::string describe() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    std::string lib(version, static_cast<size_t>(len));
    lib = lib.substr(0, lib.find_first_of(",\n"));
    return fmt::format("MPI ({}), {} ranks on {} machine{}, CUDA-aware: {}", lib, size_, machines_,
                       machines_ == 1 ? "" : "s", cuda_aware() ? "yes" : "no");
  }

  bool cuda_aware() const override {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
    return MPIX_Query_cuda_support() == 1;
#else
    return false;
#endif
  }

 private:
  template <class T>
  void ordered_allreduce(T* data, int64_t n) {
    if (size_ == 1 || n == 0) return;
    for (int64_t begin = 0; begin < n; begin += kAllReducePiece)
      ordered_allreduce_piece(data + begin, std::min(kAllReducePiece, n - begin));
  }

  template <class T>
  void ordered_allreduce_piece(T* data, int64_t n) {
    const Chunks c = split_into_chunks(n, size_, rank_);
    std::vector<T> copies(static_cast<size_t>(size_) * static_cast<size_t>(c.mine));
    check_mpi(MPI_Alltoallv(data, c.counts.data(), c.displs.data(), mpi_type<T>(), copies.data(), c.recv_counts.data(),
                            c.recv_displs.data(), mpi_type<T>(), MPI_COMM_WORLD),
              "MPI_Alltoallv");
    T* out = data + c.displs[static_cast<size_t>(rank_)];
    std::copy(copies.begin(), copies.begin() + c.mine, out);
    for (size_t q = 1; q < static_cast<size_t>(size_); ++q) {
      const T* part = copies.data() + q * static_cast<size_t>(c.mine);
      for (int i = 0; i < c.mine; ++i) out[i] += part[i];
    }
    check_mpi(MPI_Allgatherv(MPI_IN_PLACE, 0, mpi_type<T>(), data, c.counts.data(), c.displs.data(), mpi_type<T>(),
                             MPI_COMM_WORLD),
              "MPI_Allgatherv");
  }

  int rank_ = 0, size_ = 1, local_size_ = 1, local_rank_ = 0, machines_ = 1;
  bool owns_init_ = false, serialized_ = false;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi() { return std::make_unique<MpiCommunicator>(); }

}  // namespace sl::dist
