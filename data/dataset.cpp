#include "data/dataset.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/error.h"

namespace sl::data {

void check_index(int64_t index, int64_t size, const std::string& what) {
  SL_CHECK(index >= 0 && index < size, "{}: sample index {} is outside [0, {})", what, index, size);
}

ArrayDataset::ArrayDataset(std::string name, std::vector<Part> parts, std::vector<uint8_t> pixels, Layout layout,
                           int channels, int height, int width, std::vector<int32_t> labels, int64_t num_classes)
    : name_(std::move(name)),
      parts_(std::move(parts)),
      pixels_(std::move(pixels)),
      layout_(layout),
      channels_(channels),
      height_(height),
      width_(width),
      labels_(std::move(labels)),
      num_classes_(num_classes) {
  SL_CHECK(channels > 0 && height > 0 && width > 0, "{}: bad image size {}x{}x{}", name_, channels, height, width);
  size_t per_image = static_cast<size_t>(channels) * height * width;
  SL_CHECK(pixels_.size() == labels_.size() * per_image, "{}: {} pixel bytes for {} labels of {}x{}x{} images",
           name_, pixels_.size(), labels_.size(), channels, height, width);
  int64_t in_parts = 0;
  for (const Part& p : parts_) in_parts += p.count;
  SL_CHECK(parts_.empty() || in_parts == size(), "{}: files hold {} samples but there are {} labels", name_, in_parts,
           size());
}

Sample ArrayDataset::get(int64_t index) const {
  check_index(index, size(), name_);
  Sample s;
  s.label = labels_[static_cast<size_t>(index)];
  s.image = Image(height_, width_, channels_);
  size_t per_image = s.image.pixels.size();
  const uint8_t* src = pixels_.data() + static_cast<size_t>(index) * per_image;
  if (layout_ == Layout::HWC || channels_ == 1) {
    std::copy_n(src, per_image, s.image.pixels.data());
  } else {  // planes to interleaved
    size_t plane = static_cast<size_t>(height_) * width_;
    for (int c = 0; c < channels_; ++c)
      for (size_t i = 0; i < plane; ++i) s.image.pixels[i * channels_ + c] = src[c * plane + i];
  }
  return s;
}

std::string ArrayDataset::sample_name(int64_t index) const {
  int64_t local = index;
  for (const Part& p : parts_) {
    if (local < p.count) return fmt::format("{}[{}]", p.file, local);
    local -= p.count;
  }
  return fmt::format("{}[{}]", name_, index);
}

std::string ArrayDataset::describe() const {
  std::string from;
  if (!parts_.empty()) from = fmt::format(", from {}", parts_.front().file);
  if (parts_.size() > 1) from += fmt::format(" and {} more files", parts_.size() - 1);
  return fmt::format("{}: {} images {}x{}x{}, {} classes{}", name_, size(), channels_, height_, width_, num_classes_,
                     from);
}

}  // namespace sl::data
