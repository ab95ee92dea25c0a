// backends/transfer.h: the one copy rule between devices. Two made-up accelerator tables (host
// memory behind them) show the path no machine here has: accelerator to accelerator, through the
// host (to_device used to refuse it while copy_data went through the host; both use copy_bytes now).
#include <cstring>

#include "backends/backend.h"
#include "backends/transfer.h"
#include "helpers.h"

using namespace sl;

namespace {
struct Calls {
  int copy = 0, from_host = 0, to_host = 0;
};
Calls calls;

void fake_copy(void* dst, const void* src, size_t n) {
  ++calls.copy;
  std::memcpy(dst, src, n);
}
void fake_from_host(void* dst, const void* src, size_t n) {
  ++calls.from_host;
  std::memcpy(dst, src, n);
}
void fake_to_host(void* dst, const void* src, size_t n) {
  ++calls.to_host;
  std::memcpy(dst, src, n);
}

void fill_copies(Backend& b) {
  b.copy = fake_copy;
  b.copy_from_host = fake_from_host;
  b.copy_to_host = fake_to_host;
}
}  // namespace

TEST_CASE("copy_bytes: between two accelerators through the host, within one by its copy kernel",
          "[backends][transfer]") {
  Backend a(Device::cuda), b(Device::cuda);
  fill_copies(a);
  fill_copies(b);
  std::vector<float> src{1, -2, 3.5f, 0}, dst(4, 9);
  calls = {};
  copy_bytes(b, dst.data(), a, src.data(), src.size() * sizeof(float));
  CHECK(dst == src);
  CHECK(calls.to_host == 1);    // out of a
  CHECK(calls.from_host == 1);  // into b
  CHECK(calls.copy == 0);
  calls = {};
  std::vector<float> again(4, 0);
  copy_bytes(a, again.data(), a, src.data(), src.size() * sizeof(float));
  CHECK(again == src);
  CHECK(calls.copy == 1);
  CHECK(calls.to_host + calls.from_host == 0);
  calls = {};
  copy_bytes(a, again.data(), b, src.data(), 0);  // nothing to copy: no kernel runs
  CHECK(calls.copy + calls.to_host + calls.from_host == 0);
}

TEST_CASE("copy_bytes: host and device copies use the device's host copies", "[backends][transfer]") {
  Backend gpu(Device::cuda);
  fill_copies(gpu);
  Backend& host = backend(Device::cpu);
  std::vector<int32_t> src{7, 8, 9}, on_device(3), back(3);
  calls = {};
  copy_bytes(gpu, on_device.data(), host, src.data(), 3 * sizeof(int32_t));
  copy_bytes(host, back.data(), gpu, on_device.data(), 3 * sizeof(int32_t));
  CHECK(back == src);
  CHECK(calls.from_host == 1);
  CHECK(calls.to_host == 1);
  // The tensor-level copies go through the same rule: a CPU round trip keeps every value.
  Tensor t = from_vector(std::vector<float>{1, 2, 3});
  Tensor u = Tensor::empty({3}, DType::f32, Device::cpu);
  copy_data(u, t);
  CHECK(to_device(u, Device::cpu).to_vector<float>() == std::vector<float>{1, 2, 3});
}
