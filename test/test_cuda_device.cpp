// Asking for CUDA where it cannot run (no GPU, or a build without CUDA) fails with one clear
// sl::Error carrying the reason, from the API and from the CLI, and never crashes. On a GPU machine
// the same requests simply work. The caching allocator's size classes are checked here too: they
// are plain arithmetic and need no GPU.
#include "backends/backend.h"
#include "helpers.h"
#include "layers/models/registry.h"

#ifdef SHIFTLAB_WITH_CUDA
#include "backends/cuda/allocator.cuh"
#endif

using namespace sl;
using sl::test::error_of;
using sl::test::run_cli;

TEST_CASE("cuda: unavailable devices give a clear error naming the reason", "[cuda][errors]") {
  if (cuda_available()) {
    CHECK(cuda_unavailable_reason().empty());
    CHECK(full({3}, 2.0, DType::f32, Device::cuda).to_vector<float>() == std::vector<float>(3, 2.0f));
    return;
  }
  std::string reason = cuda_unavailable_reason();
  INFO("reason: " << reason);
  REQUIRE_FALSE(reason.empty());
#ifndef SHIFTLAB_WITH_CUDA
  CHECK(reason.find("built without CUDA") != std::string::npos);
#endif
  auto check_msg = [&](const std::string& msg) {
    INFO(msg);
    CHECK(msg.find("CUDA device requested but unavailable") != std::string::npos);
    CHECK(msg.find(reason) != std::string::npos);
  };
  check_msg(error_of([] { backend(Device::cuda); }));
  check_msg(error_of([] { zeros({2, 3}, DType::f32, Device::cuda); }));
  check_msg(error_of([] { ones({4}).to(Device::cuda); }));
  check_msg(error_of([] { randn({4}, DType::f32, Device::cuda); }));
  check_msg(error_of([] {
    ModulePtr m = make_model("mnist-fc");
    m->to(Device::cuda);
  }));
  // Still usable afterwards: the failure leaves no broken state behind.
  check_msg(error_of([] { backend(Device::cuda); }));
  CHECK(ones({2}).to_vector<float>() == std::vector<float>{1, 1});
  CHECK(device_from_name("cuda") == Device::cuda);
}

TEST_CASE("cuda: the CLI reports an unavailable device and exits with an error", "[cuda][cli]") {
  if (cuda_available()) return;
  for (const char* cmd :
       {"bench gemm --device cuda --m 8 --n 8 --k 8 --budget 0.01", "bench conv --device cuda -b 1 --budget 0.01"}) {
    INFO(cmd);
    auto r = run_cli(cmd);
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("CUDA device requested but unavailable") != std::string::npos);
    CHECK(r.output.find(cuda_unavailable_reason()) != std::string::npos);
  }
  auto r = run_cli("bench gemm --device tpu");
  CHECK(r.exit_code != 0);
}

#ifdef SHIFTLAB_WITH_CUDA
TEST_CASE("cuda: caching allocator size classes", "[cuda][allocator]") {
  using A = cuda::CachingAllocator;
  CHECK(A::size_class(0) == 512);
  CHECK(A::size_class(1) == 512);
  CHECK(A::size_class(512) == 512);
  CHECK(A::size_class(513) == 1024);
  CHECK(A::size_class(size_t{1} << 20) == size_t{1} << 20);
  CHECK(A::size_class((size_t{1} << 20) + 1) == (size_t{5} << 18));  // 1.25 MiB
  CHECK(A::size_class(size_t{3} << 20) == size_t{3} << 20);          // 1.5 * 2 MiB
  CHECK(A::size_class((size_t{3} << 20) + 1) == (size_t{7} << 19));  // 1.75 * 2 MiB
  CHECK(A::size_class((size_t{7} << 19) + 1) == size_t{4} << 20);    // next octave
  for (size_t n : {size_t{1}, size_t{1000}, size_t{123456}, size_t{5000000}, size_t{987654321}}) {
    size_t c = A::size_class(n);
    CHECK(c >= n);
    CHECK(c % 512 == 0);
    CHECK(static_cast<double>(c) <= std::max(1.25 * static_cast<double>(n), static_cast<double>(n) + 512));
    CHECK(A::size_class(c) == c);  // classes are fixed points
  }
}
#endif
