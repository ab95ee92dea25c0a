// The CPU/CUDA parity binary. Without a GPU (or a CUDA build) it prints why and exits with 77, which
// CTest reports as "Skipped", never as a pass.
//
// SHIFTLAB_PARITY_SELF_TEST=1 runs every test with the CPU standing in for the GPU. That checks the
// tests themselves (shapes, API use, tolerances of the comparison code) on a machine without a GPU;
// it says nothing about the CUDA kernels, and says so on stdout.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "parity.h"

namespace sl::parity {
namespace {
bool self_test() {
  const char* v = std::getenv("SHIFTLAB_PARITY_SELF_TEST");
  return v && std::strcmp(v, "0") != 0 && *v != '\0';
}
}  // namespace

Device device() { return self_test() ? Device::cpu : Device::cuda; }

}  // namespace sl::parity

int main(int argc, char** argv) {
  if (sl::parity::device() == sl::Device::cpu) {
    std::printf("SELF-TEST MODE: comparing the CPU against itself; the CUDA kernels are NOT tested.\n");
  } else if (!sl::cuda_available()) {
    std::printf("SKIPPED: CUDA parity tests need a GPU: %s\n", sl::cuda_unavailable_reason().c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
