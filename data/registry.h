// Datasets by name, as --dataset spells them, with their defaults: folder, number of classes,
// image shape, normalisation and the standard train/test transforms.
//
//   fashion-mnist (default)  IDX, /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist)
//   mnist, kmnist            IDX, data/mnist, data/kmnist
//   cifar10, cifar100        CIFAR binary, data/cifar10, data/cifar100
//   imagefolder              DIR/train/<class>/*.JPEG and DIR/val/<class>/*.JPEG; needs --data
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_folder.h"
#include "data/transforms.h"
#include "engine/shape.h"

namespace sl::data {

struct DatasetInfo {
  std::string name;          // "fashion-mnist"
  std::string title;         // "Fashion-MNIST"
  std::string default_dir;   // used when --data is not given ("" = required)
  int64_t num_classes = 0;
  Shape image_shape;         // [C, H, W] of the tensors the default transforms produce
  std::vector<float> mean, std;
};

// The names make_dataset accepts, in the order of the table above.
const std::vector<std::string>& dataset_names();
// Throws an error listing the valid names when `name` is not one of them.
const DatasetInfo& dataset_info(const std::string& name);
// The standard transforms: MNIST family: ToTensor + Normalize; CIFAR train: RandomCrop(32, 4) +
// RandomHorizontalFlip + Normalize, test: Normalize; image folder train: RandomResizedCrop(224) +
// RandomHorizontalFlip + Normalize, val: Resize(256) + CenterCrop(224) + Normalize. An image folder's
// `image_size` (> 0) replaces 224, and 256 with the same ratio (torchvision's reference scripts).
Compose default_transform(const std::string& name, bool train, int64_t image_size = 0);

struct DatasetOptions {
  ImageFolderOptions image_folder;  // only for imagefolder
  int64_t image_size = 0;           // imagefolder: crop size (0 = 224); the other datasets have one size
};

struct LoadedDataset {
  std::shared_ptr<const Dataset> dataset;
  DatasetInfo info;
  Compose transform;  // default_transform(name, train)
};

// Loads the train or test split of dataset `name` from `dir` ("" = the dataset's default folder).
LoadedDataset make_dataset(const std::string& name, const std::string& dir, bool train,
                           const DatasetOptions& options = {});

}  // namespace sl::data
