// Picks the device all-reduce of a CUDA data-parallel run (dist/device_allreduce.h).
#include "dist/device_allreduce.h"

#include <cstdlib>
#include <string>

#include "backends/backend.h"
#include "engine/error.h"

namespace sl::dist {

std::unique_ptr<DeviceAllReduce> make_device_allreduce(Communicator& comm, bool device_gradients) {
  const char* env = std::getenv("SHIFTLAB_DEVICE_ALLREDUCE");
  const std::string want = env == nullptr ? "" : env;
  SL_CHECK(want.empty() || want == "host" || want == "nccl" || want == "mpi",
           "SHIFTLAB_DEVICE_ALLREDUCE is '{}': use host, nccl or mpi (or leave it unset to pick the fastest there)",
           want);
  if (!device_gradients) return nullptr;
  if (comm.size() == 1 || want == "host" || !cuda_available()) {
    SL_CHECK(want.empty() || want == "host" || comm.size() == 1,
             "SHIFTLAB_DEVICE_ALLREDUCE={} needs a usable GPU: {}", want, cuda_unavailable_reason());
    return nullptr;
  }
#ifdef SHIFTLAB_WITH_NCCL
  // NCCL needs a GPU per rank (it refuses two ranks on one).
  const bool gpu_each = comm.local_size() <= cuda_device_count();
  SL_CHECK(want != "nccl" || gpu_each, "SHIFTLAB_DEVICE_ALLREDUCE=nccl needs a GPU per rank: {} ranks on this machine, {} GPUs",
           comm.local_size(), cuda_device_count());
  if (want != "mpi" && gpu_each) return make_nccl_allreduce(comm);
#else
  SL_CHECK(want != "nccl", "SHIFTLAB_DEVICE_ALLREDUCE=nccl but this shiftlab was built without NCCL (SHIFTLAB_NCCL)");
#endif
#if defined(SHIFTLAB_WITH_CUDA) && defined(SHIFTLAB_WITH_MPI)
  if (comm.cuda_aware()) return make_cuda_aware_mpi_allreduce(comm);
#endif
  SL_CHECK(want != "mpi", "SHIFTLAB_DEVICE_ALLREDUCE=mpi but the MPI library does not take CUDA device pointers");
  return nullptr;
}

}  // namespace sl::dist
