// safetensors files (huggingface/safetensors format): an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then the raw
// little-endian row-major data. Reading validates like the reference implementation (tensor.rs):
// header size, JSON, duplicate names, dtypes, shapes, and that the offsets tile the buffer exactly.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace sl {

using Metadata = std::map<std::string, std::string>;

struct SafetensorsContent {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file (offset) order, on the CPU
  Metadata metadata;
  std::map<std::string, Tensor> as_map() const;
  const Tensor* find(const std::string& name) const;
};

// Writes atomically (temp file in the same directory, fsync, rename): an existing file is replaced
// only by a complete new one. Tensors are copied from any device.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const Metadata& metadata = {});
// Throws sl::Error naming the file and what is wrong (truncated, header too large, bad JSON,
// unknown dtype, offsets that overlap or leave holes, duplicate tensor names, ...).
SafetensorsContent load_safetensors(const std::string& path);
// The same, from bytes in memory; `path` names them in errors.
SafetensorsContent parse_safetensors(const char* data, size_t size, const std::string& path);

}  // namespace sl
