// NumPy .npy files (format 1.0/2.0/3.0, C order, little-endian): golden vectors, `shiftlab quantize`
// and tensor dumps. Reading checks the magic, the header and the exact file size.
#pragma once
#include <string>

#include "engine/tensor.h"

namespace sl {

// Reads <f4 <f8 <i4 <i8 |i1 |u1 natively; widens <f2 -> f32, <i2/<u2 -> i32, <u4 -> i64 and |b1 -> u8.
// Throws sl::Error naming the file.
Tensor load_npy(const std::string& path);
// The same, from bytes in memory; `path` names them in errors.
Tensor parse_npy(const char* data, size_t size, const std::string& path);
// Writes a CPU-resident copy of t (format 1.0, header padded to 64 bytes); replaces the file atomically.
void save_npy(const std::string& path, const Tensor& t);

}  // namespace sl
