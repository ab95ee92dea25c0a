// Copies between devices, the one rule every copy outside the backends follows: within one backend
// its `copy` kernel, between the host and a device that device's host copies, between two
// different accelerators through a host buffer. Built on the backend table only, so a new device
// needs nothing here.
#pragma once
#include <cstddef>

#include "engine/device.h"

namespace sl {

struct Backend;

// nbytes from src (memory of src_device) to dst (memory of dst_device).
void copy_bytes(Device dst_device, void* dst, Device src_device, const void* src, size_t nbytes);
// The same between two backend tables (what the Device form looks up; tests pass tables of their own).
void copy_bytes(Backend& dst_backend, void* dst, Backend& src_backend, const void* src, size_t nbytes);

}  // namespace sl
