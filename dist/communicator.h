// The processes of a data-parallel run and the few collectives training needs. The trainer talks to
// this interface only; `world()` is MPI's when the process was started by mpirun (and the build has
// MPI: SHIFTLAB_MPI), else a single-process communicator whose collectives do nothing.
//
// Determinism: allreduce_sum adds the ranks' values of every element in rank order 0, 1, ..., N-1,
// whatever the buffer's length or how it is split, so a result depends on the rank count only
// (docs/distributed.md).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace sl::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Processes of this run on this machine (to share its cores between them), and this one's index
  // among them (to pick its GPU).
  virtual int local_size() const = 0;
  virtual int local_rank() const = 0;
  virtual int machines() const = 0;
  // True when a second thread may call the collectives while the first does not (MPI's
  // MPI_THREAD_SERIALIZED): the overlapped gradient all-reduce's communication thread.
  virtual bool serialized_threads() const { return false; }
  // Replaces data[i] on every rank by the sum over ranks of data[i], added in rank order.
  virtual void allreduce_sum(float* data, int64_t n) = 0;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
  // Copies `bytes` bytes from `root`'s buffer into every rank's.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every process of the run (after an error on one rank, so the others do not wait forever).
  [[noreturn]] virtual void abort(int exit_code) = 0;
  // "MPI (Open MPI v4.1.4), 2 ranks on 1 machine" etc., for the start of a run's output.
  virtual std::string describe() const = 0;
  // True when the MPI library takes CUDA device pointers (CUDA-aware MPI).
  virtual bool cuda_aware() const { return false; }
};

// The communicator of this process (created on first use; MPI is initialised then and finalised
// at exit).
Communicator& world();
// True when a launcher (mpirun, srun with PMI/PMIx) started this process as one of several ranks.
bool launched_as_rank();

// One process: rank 0 of 1; the collectives leave the data as it is.
std::unique_ptr<Communicator> make_single_process();
#ifdef SHIFTLAB_WITH_MPI
std::unique_ptr<Communicator> make_mpi();
#endif

}  // namespace sl::dist
