// CIFAR-10 / CIFAR-100, binary version. A CIFAR-10 record is 1 label byte + 3072 pixel bytes
// (1024 R, 1024 G, 1024 B: 32x32 planes, row-major); CIFAR-100 records carry a coarse and a fine
// label byte before the pixels (3074 bytes) and we use the fine label. Files are read whole
// into one buffer (CIFAR fits in RAM) and every size and label is checked.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sl::data {

enum class CifarKind { cifar10, cifar100 };

// The files of a split: data_batch_1..5.bin / test_batch.bin (CIFAR-10), train.bin / test.bin
// (CIFAR-100), looked up in dir or in its cifar-10-batches-bin/ / cifar-100-binary/ subfolder.
std::vector<std::string> cifar_files(const std::string& dir, CifarKind kind, bool train);

// Loads records from the given files. `records_per_file` > 0 requires each file to hold exactly
// that many records (the official files: 10000 per CIFAR-10 batch, 50000/10000 for CIFAR-100);
// 0 accepts any whole number of records (small test fixtures).
std::shared_ptr<ArrayDataset> load_cifar_files(const std::vector<std::string>& files, CifarKind kind,
                                               int64_t records_per_file, const std::string& name);

// cifar_files + load_cifar_files with the official record counts.
std::shared_ptr<ArrayDataset> load_cifar(const std::string& dir, CifarKind kind, bool train);

}  // namespace sl::data
