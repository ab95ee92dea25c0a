// Picks the communicator of this process once: MPI's for a rank started by a launcher, else one
// process (so a plain `shiftlab train` never initialises MPI and behaves as a build without it).
#include <cstdlib>

#include "dist/communicator.h"
#include "engine/error.h"

namespace sl::dist {

bool launched_as_rank() {
  // Open MPI's mpirun, and PMI / PMIx launchers (MPICH's hydra, Slurm's srun).
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(var) != nullptr) return true;
  return false;
}

Communicator& world() {
  static std::unique_ptr<Communicator> comm = [] {
#ifdef SHIFTLAB_WITH_MPI
    if (launched_as_rank()) return make_mpi();
#else
    // Started by mpirun without MPI compiled in: every rank would train alone and write the same run
    // directory. Refuse unless the launcher started one process only.
    const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (size == nullptr) size = std::getenv("PMI_SIZE");
    SL_CHECK(size == nullptr || std::atoi(size) <= 1,
             "this shiftlab was built without MPI (SHIFTLAB_MPI=OFF or no MPI library found), so it cannot run as "
             "one of {} ranks; rebuild with libopenmpi-dev installed",
             size ? size : "");
#endif
    return make_single_process();
  }();
  return *comm;
}

}  // namespace sl::dist
