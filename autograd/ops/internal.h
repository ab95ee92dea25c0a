// Helpers shared by the op files (not part of the public API).
#pragma once
#include "autograd/function.h"
#include "autograd/ops.h"
#include "backends/backend.h"
#include "engine/factory.h"

namespace sl::detail {

inline Backend& backend_of(const Tensor& t) { return backend(t.device()); }

// Broadcasting binary kernel without a graph node: checks dtypes and devices, names `op` in errors.
Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b, const char* name);
// Broadcasts g (whose shape must broadcast to `shape`) to `shape` as a new tensor.
Tensor expand_to(const Tensor& g, const Shape& shape);
// The [outer, extent, inner] view of `shape` around dimension `dim` (already normalised).
ReduceDims dims_around(const Shape& shape, int64_t dim);

}  // namespace sl::detail
