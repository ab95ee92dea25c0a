#include "data/registry.h"

#include <filesystem>

#include "data/cifar.h"
#include "data/idx.h"
#include "engine/error.h"

namespace sl::data {

namespace {

// Fashion-MNIST's statistics were computed over the 47,040,000 training pixels of Debian's copy
// (the test in test_data_idx.cpp recomputes them); MNIST's are the PyTorch example's; KMNIST's
// the values its authors' examples use; CIFAR's are DeepShift's (and shiftresnet's), ImageNet's
// torchvision's.
const std::vector<DatasetInfo>& table() {
  static const std::vector<DatasetInfo> t = {
      {"fashion-mnist", "Fashion-MNIST", "/usr/share/datasets/fashion-mnist", 10, {1, 28, 28}, {0.2860406f},
       {0.3530242f}},
      {"mnist", "MNIST", "data/mnist", 10, {1, 28, 28}, {0.1307f}, {0.3081f}},
      {"kmnist", "KMNIST", "data/kmnist", 10, {1, 28, 28}, {0.1918f}, {0.3483f}},
      {"cifar10", "CIFAR-10", "data/cifar10", 10, {3, 32, 32}, {0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}},
      {"cifar100", "CIFAR-100", "data/cifar100", 100, {3, 32, 32}, {0.4914f, 0.4822f, 0.4465f},
       {0.2023f, 0.1994f, 0.2010f}},
      {"imagefolder", "image folder", "", 0, {3, 224, 224}, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
  };
  return t;
}

bool is_idx(const std::string& name) { return name == "fashion-mnist" || name == "mnist" || name == "kmnist"; }

}  // namespace

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const DatasetInfo& d : table()) n.push_back(d.name);
    return n;
  }();
  return names;
}

const DatasetInfo& dataset_info(const std::string& name) {
  for (const DatasetInfo& d : table())
    if (d.name == name) return d;
  fail("unknown dataset '{}' (valid: {})", name, fmt::join(dataset_names(), ", "));
}

Compose default_transform(const std::string& name, bool train, int64_t image_size) {
  const DatasetInfo& info = dataset_info(name);
  Compose t;
  if (name == "cifar10" || name == "cifar100") {
    if (train) t.add(random_crop(32, 4)).add(random_horizontal_flip(0.5));
  } else if (name == "imagefolder") {
    int crop = image_size > 0 ? static_cast<int>(image_size) : 224;
    if (train)
      t.add(random_resized_crop(crop, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0)).add(random_horizontal_flip(0.5));
    else
      t.add(resize(crop * 256 / 224)).add(center_crop(crop));
  }
  t.normalize(info.mean, info.std);
  return t;
}

LoadedDataset make_dataset(const std::string& name, const std::string& dir, bool train,
                           const DatasetOptions& options) {
  LoadedDataset out;
  out.info = dataset_info(name);
  std::string root = dir.empty() ? out.info.default_dir : dir;
  std::string split = out.info.title + (train ? " train" : " test");
  if (is_idx(name)) {
    out.dataset = load_idx_dir(root, train, out.info.num_classes, split);
  } else if (name == "cifar10" || name == "cifar100") {
    out.dataset = load_cifar(root, name == "cifar10" ? CifarKind::cifar10 : CifarKind::cifar100, train);
  } else {
    SL_CHECK(!root.empty(), "dataset imagefolder needs --data DIR (a folder with train/ and val/ class folders)");
    namespace fs = std::filesystem;
    fs::path sub = fs::path(root) / (train ? "train" : "val");
    if (!train && !fs::exists(sub) && fs::exists(fs::path(root) / "test")) sub = fs::path(root) / "test";
    auto folder = std::make_shared<ImageFolderDataset>(sub.string(), options.image_folder);
    out.info.num_classes = folder->num_classes();
    out.dataset = folder;
  }
  if (name == "imagefolder" && options.image_size > 0) out.info.image_shape = {3, options.image_size, options.image_size};
  out.transform = default_transform(name, train, options.image_size);
  return out;
}

}  // namespace sl::data
