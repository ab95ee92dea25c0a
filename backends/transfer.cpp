#include "backends/transfer.h"

#include <vector>

#include "backends/backend.h"

namespace sl {

void copy_bytes(Backend& dst_backend, void* dst, Backend& src_backend, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  if (&dst_backend == &src_backend) {
    dst_backend.copy(dst, src, nbytes);
  } else if (src_backend.device == Device::cpu) {
    dst_backend.copy_from_host(dst, src, nbytes);
  } else if (dst_backend.device == Device::cpu) {
    src_backend.copy_to_host(dst, src, nbytes);
  } else {  // two accelerators: through the host
    std::vector<char> host(nbytes);
    src_backend.copy_to_host(host.data(), src, nbytes);
    dst_backend.copy_from_host(dst, host.data(), nbytes);
  }
}

void copy_bytes(Device dst_device, void* dst, Device src_device, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  copy_bytes(backend(dst_device), dst, backend(src_device), src, nbytes);
}

}  // namespace sl
