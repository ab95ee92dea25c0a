// An ImageNet-style folder: root/<class>/**/<image>, class index = position of the folder name in
// sorted order and files in sorted order, exactly as torchvision's ImageFolder lists them (so
// class indices match models trained with it). Only file names are kept; images are decoded on
// demand with stb_image, so the folder is streamed, never loaded whole.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sl::data {

struct ImageFolderOptions {
  // false: an unreadable or undecodable image is an error naming the file. true: such a sample
  // comes back with Sample::skipped set, and the loader leaves it out and counts it.
  bool skip_bad_images = false;
};

class ImageFolderDataset : public Dataset {
 public:
  explicit ImageFolderDataset(const std::string& root, ImageFolderOptions options = {});

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  Sample get(int64_t index) const override;
  std::string sample_name(int64_t index) const override { return path(index); }
  std::string describe() const override;

  const std::vector<std::string>& classes() const { return classes_; }
  std::string path(int64_t index) const;
  int32_t label(int64_t index) const;

 private:
  void scan();  // lists classes and files (torchvision's order)

  std::string root_;
  ImageFolderOptions options_;
  std::vector<std::string> classes_;
  // All relative paths back to back in one string: ImageNet's 1.28M names then take ~45 MB
  // instead of ~130 MB as separate std::strings.
  std::string names_;
  std::vector<int64_t> name_end_;
  std::vector<int32_t> labels_;
};

// The extensions ImageFolder accepts (case-insensitive), as torchvision's IMG_EXTENSIONS.
const std::vector<std::string>& image_extensions();

}  // namespace sl::data
