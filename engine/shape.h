// Shapes are plain vectors of sizes; tensors are always contiguous row-major (NCHW).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sl {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"
// Row-major strides in elements.
std::vector<int64_t> shape_strides(const Shape& shape);
// Numpy broadcasting of two shapes; throws sl::Error naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Maps a possibly negative dimension index into [0, ndim); throws naming `op` when out of range.
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace sl
