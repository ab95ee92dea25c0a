#include "backends/backend.h"


#include "backends/cpu/cpu_kernels.h"
#ifdef SHIFTLAB_WITH_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace sl {

namespace {
const char* const kBinaryNames[] = {"add", "sub", "mul", "div", "max", "min", "pow",
                                    "eq",  "ne",  "lt",  "le",  "gt",  "ge"};
static_assert(sizeof(kBinaryNames) / sizeof(kBinaryNames[0]) == static_cast<size_t>(BinaryOp::COUNT),
              "every BinaryOp needs a name");
const char* const kUnaryNames[] = {"neg",   "abs",  "sign", "exp",  "log",     "log2",
                                   "exp2",  "sqrt", "round", "floor", "ceil",  "relu",
                                   "relu6", "sigmoid", "tanh", "reciprocal", "square"};
static_assert(sizeof(kUnaryNames) / sizeof(kUnaryNames[0]) == static_cast<size_t>(UnaryOp::COUNT),
              "every UnaryOp needs a name");
}  // namespace

const char* binary_op_name(BinaryOp op) { return kBinaryNames[static_cast<size_t>(op)]; }
const char* unary_op_name(UnaryOp op) { return kUnaryNames[static_cast<size_t>(op)]; }

std::string cuda_unavailable_reason() {
#ifdef SHIFTLAB_WITH_CUDA
  return cuda::unavailable_reason();
#else
  return "shiftlab was built without CUDA (configure with -DSHIFTLAB_CUDA=ON on a machine with nvcc)";
#endif
}

bool cuda_available() { return cuda_unavailable_reason().empty(); }

void select_cuda_device([[maybe_unused]] int local_rank) {
#ifdef SHIFTLAB_WITH_CUDA
  cuda::select_device(local_rank);
#endif
}

int cuda_device_count() {
#ifdef SHIFTLAB_WITH_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

Backend& backend(Device device) {
  if (device == Device::cpu) {
    static Backend* cpu = [] {
      auto* b = new Backend(Device::cpu);  // lives for the whole process
      cpu::register_kernels(*b);
      return b;
    }();
    return *cpu;
  }
  SL_CHECK(device == Device::cuda, "invalid device value {}", static_cast<int>(device));
#ifdef SHIFTLAB_WITH_CUDA
  static Backend* gpu = [] {
    auto* b = new Backend(Device::cuda);
    cuda::register_kernels(*b);
    return b;
  }();
  std::string why = cuda::unavailable_reason();
  SL_CHECK(why.empty(), "CUDA device requested but unavailable: {}", why);
  return *gpu;
#else
  fail("CUDA device requested but unavailable: {}", cuda_unavailable_reason());
#endif
}

}  // namespace sl
