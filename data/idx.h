// IDX files (MNIST, Fashion-MNIST, KMNIST): big-endian header `00 00 <type> <ndims>` then one u32
// per dimension, then the data row-major. Read gzipped or plain (zlib's gzread passes plain files
// through), with every size checked: a short or over-long file is an error, never fewer images.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sl::data {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // product(dims) bytes
};

// Reads an IDX file of unsigned bytes (type 0x08) with `ndims` dimensions. `what` names the
// content in messages ("images", "labels").
IdxArray read_idx_u8(const std::string& path, int ndims, const std::string& what);

// The dataset made of an images file [N, H, W] and a labels file [N] whose labels must lie in
// [0, num_classes). `name` labels it in describe() ("Fashion-MNIST train").
std::shared_ptr<ArrayDataset> load_idx(const std::string& images_path, const std::string& labels_path,
                                       int64_t num_classes, const std::string& name);

// Finds `{train|t10k}-images-idx3-ubyte[.gz]` and `...-labels-idx1-ubyte[.gz]` in dir (the .gz
// file first) and loads them.
std::shared_ptr<ArrayDataset> load_idx_dir(const std::string& dir, bool train, int64_t num_classes,
                                           const std::string& name);

}  // namespace sl::data
