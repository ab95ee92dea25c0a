// The softmax slots of a backend's table, from its typed implementations: the dtype dispatch and
// the kernel names the errors carry are the same on every device, only the typed bodies differ.
#pragma once
#include "backends/backend.h"
#include "backends/dtype_dispatch.h"

namespace sl {

// Impl provides `static constexpr Device device` and, for T = float and double,
//   template <class T> static void forward(bool log, const T* x, ReduceDims d, T* y);
//   template <class T> static void backward(bool log, const T* y, const T* gy, ReduceDims d, T* gx);
template <class Impl>
void softmax_forward_entry(DType dt, bool log, const void* x, ReduceDims d, void* y) {
  dispatch_floating(dt, log ? "log_softmax" : "softmax", Impl::device, [&](auto tag) {
    using T = decltype(tag);
    Impl::template forward<T>(log, static_cast<const T*>(x), d, static_cast<T*>(y));
  });
}

template <class Impl>
void softmax_backward_entry(DType dt, bool log, const void* y, const void* gy, ReduceDims d, void* gx) {
  dispatch_floating(dt, log ? "log_softmax_backward" : "softmax_backward", Impl::device, [&](auto tag) {
    using T = decltype(tag);
    Impl::template backward<T>(log, static_cast<const T*>(y), static_cast<const T*>(gy), d, static_cast<T*>(gx));
  });
}

// Fills the family's four slots: softmax from Impl's typed bodies, cross-entropy as given (its
// label check and loss reduction differ by device).
template <class Impl>
void register_softmax_entries(Backend& b, decltype(Backend::cross_entropy_forward)::Fn cross_entropy_forward,
                              decltype(Backend::cross_entropy_backward)::Fn cross_entropy_backward) {
  b.softmax_forward = softmax_forward_entry<Impl>;
  b.softmax_backward = softmax_backward_entry<Impl>;
  b.cross_entropy_forward = cross_entropy_forward;
  b.cross_entropy_backward = cross_entropy_backward;
}

}  // namespace sl
