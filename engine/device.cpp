#include "engine/device.h"

#include "engine/error.h"

namespace sl {

const char* device_name(Device d) {
  switch (d) {
    case Device::cpu: return "cpu";
    case Device::cuda: return "cuda";
    default: break;
  }
  fail("invalid device value {}", static_cast<int>(d));
}

Device device_from_name(const std::string& name) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda") return Device::cuda;
  fail("unknown device '{}' (expected cpu or cuda)", name);
}

}  // namespace sl
