// The CUDA backend's entry points, callable from plain C++ (backends/backend.cpp).
#pragma once
#include <string>

#include "backends/backend.h"

namespace sl::cuda {

void register_kernels(Backend& b);
// Empty when a GPU is usable; otherwise why not (the CUDA runtime's own message).
std::string unavailable_reason();

// Per-file registration (backends/cuda/*.cu).
void register_memory(Backend& b);
void register_elementwise(Backend& b);

}  // namespace sl::cuda
