#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "engine/error.h"
#include "engine/rng.h"

namespace sl::data {

namespace {
// High word of the Philox stream: keeps augmentation draws apart from the loader's shuffle draws.
constexpr uint64_t kAugmentStream = uint64_t{2} << 32;

// Python's round(): halves go to the even neighbour (nearbyint in the default rounding mode).
int round_half_even(double x) { return static_cast<int>(std::nearbyint(x)); }

class RandomCrop : public ImageTransform {
 public:
  RandomCrop(int size, int padding) : size_(size), padding_(padding) {
    SL_CHECK(size > 0 && padding >= 0, "RandomCrop: size {} must be positive and padding {} non-negative", size,
             padding);
  }
  Image apply(Image image, SampleRng& rng) const override {
    int h = image.height + 2 * padding_, w = image.width + 2 * padding_;
    SL_CHECK(h >= size_ && w >= size_, "{}: the padded image {}x{} is smaller than the crop", name(), h, w);
    if (h == size_ && w == size_ && padding_ == 0) return image;
    int top = static_cast<int>(rng.below(h - size_ + 1));
    int left = static_cast<int>(rng.below(w - size_ + 1));
    // Cropping the unpadded image at a shifted origin gives the same zeros as padding first.
    return crop(image, top - padding_, left - padding_, size_, size_);
  }
  std::string name() const override { return fmt::format("RandomCrop({}, padding={})", size_, padding_); }

 private:
  int size_, padding_;
};

class RandomHorizontalFlip : public ImageTransform {
 public:
  explicit RandomHorizontalFlip(double p) : p_(p) {
    SL_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: p = {} is outside [0, 1]", p);
  }
  Image apply(Image image, SampleRng& rng) const override {
    if (rng.uniform() < p_) flip_horizontal(image);
    return image;
  }
  std::string name() const override { return fmt::format("RandomHorizontalFlip(p={})", p_); }

 private:
  double p_;
};

class RandomResizedCrop : public ImageTransform {
 public:
  RandomResizedCrop(int size, double scale_min, double scale_max, double ratio_min, double ratio_max)
      : size_(size), scale_{scale_min, scale_max}, ratio_{ratio_min, ratio_max} {
    SL_CHECK(size > 0 && scale_min > 0 && scale_min <= scale_max && ratio_min > 0 && ratio_min <= ratio_max,
             "RandomResizedCrop: bad parameters size {} scale ({}, {}) ratio ({}, {})", size, scale_min, scale_max,
             ratio_min, ratio_max);
  }
  Image apply(Image image, SampleRng& rng) const override {
    CropBox b = random_resized_crop_box(image.height, image.width, scale_[0], scale_[1], ratio_[0], ratio_[1], rng);
    return resize_region(image, b.top, b.left, b.height, b.width, size_, size_);
  }
  std::string name() const override {
    return fmt::format("RandomResizedCrop({}, scale=({}, {}), ratio=({:.4g}, {:.4g}), bilinear)", size_, scale_[0],
                       scale_[1], ratio_[0], ratio_[1]);
  }

 private:
  int size_;
  double scale_[2], ratio_[2];
};

class Resize : public ImageTransform {
 public:
  explicit Resize(int size) : size_(size) { SL_CHECK(size > 0, "Resize: size {} must be positive", size); }
  Image apply(Image image, SampleRng&) const override {
    auto [h, w] = resized_shorter_side(image.height, image.width, size_);
    return resize(image, h, w);
  }
  std::string name() const override { return fmt::format("Resize({}, bilinear)", size_); }

 private:
  int size_;
};

class CenterCrop : public ImageTransform {
 public:
  explicit CenterCrop(int size) : size_(size) { SL_CHECK(size > 0, "CenterCrop: size {} must be positive", size); }
  Image apply(Image image, SampleRng&) const override {
    CropBox b = center_crop_box(image.height, image.width, size_);
    if (b.top == 0 && b.left == 0 && image.height == size_ && image.width == size_) return image;
    return crop(image, b.top, b.left, b.height, b.width);
  }
  std::string name() const override { return fmt::format("CenterCrop({})", size_); }

 private:
  int size_;
};

}  // namespace

SampleRng::SampleRng(uint64_t seed, int64_t epoch, int64_t index)
    : seed_(seed), stream_(kAugmentStream | static_cast<uint32_t>(epoch)), counter_(static_cast<uint64_t>(index) << 20) {
  SL_CHECK(epoch >= 0 && index >= 0, "SampleRng: epoch {} and index {} must be non-negative", epoch, index);
}

uint32_t SampleRng::next_u32() {
  if (used_ == 4) {
    block_ = philox(seed_, counter_++, stream_);
    used_ = 0;
  }
  return block_[static_cast<size_t>(used_++)];
}

int64_t SampleRng::below(int64_t bound) {
  SL_CHECK(bound > 0, "SampleRng::below: bound must be positive, got {}", bound);
  uint64_t x = (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
  return static_cast<int64_t>(x % static_cast<uint64_t>(bound));  // bias < 2^-32 for image sizes
}

ImageTransformPtr random_crop(int size, int padding) { return std::make_shared<RandomCrop>(size, padding); }
ImageTransformPtr random_horizontal_flip(double p) { return std::make_shared<RandomHorizontalFlip>(p); }
ImageTransformPtr random_resized_crop(int size, double scale_min, double scale_max, double ratio_min,
                                      double ratio_max) {
  return std::make_shared<RandomResizedCrop>(size, scale_min, scale_max, ratio_min, ratio_max);
}
ImageTransformPtr resize(int size) { return std::make_shared<Resize>(size); }
ImageTransformPtr center_crop(int size) { return std::make_shared<CenterCrop>(size); }

// torchvision.transforms.RandomResizedCrop.get_params, step for step.
CropBox random_resized_crop_box(int height, int width, double scale_min, double scale_max, double ratio_min,
                                double ratio_max, SampleRng& rng) {
  double area = static_cast<double>(height) * width;
  double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target_area = area * rng.uniform(scale_min, scale_max);
    double aspect = std::exp(rng.uniform(log_lo, log_hi));
    int w = round_half_even(std::sqrt(target_area * aspect));
    int h = round_half_even(std::sqrt(target_area / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      int top = static_cast<int>(rng.below(height - h + 1));
      int left = static_cast<int>(rng.below(width - w + 1));
      return {top, left, h, w};
    }
  }
  // Fallback: the central crop with the aspect ratio clamped into range.
  double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio_min)
    h = round_half_even(w / ratio_min);
  else if (in_ratio > ratio_max)
    w = round_half_even(h * ratio_max);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

// torchvision.transforms.functional.center_crop: round((dim - size) / 2); pads (left/top gets the
// smaller half) when the image is smaller than the crop.
CropBox center_crop_box(int height, int width, int size) {
  auto offset = [size](int dim) { return size > dim ? -((size - dim) / 2) : round_half_even((dim - size) / 2.0); };
  return {offset(height), offset(width), size, size};
}

// torchvision's _compute_resized_output_size for an int size: the shorter side becomes `size`, the
// longer one int(size * long / short).
std::array<int, 2> resized_shorter_side(int height, int width, int size) {
  SL_CHECK(height > 0 && width > 0, "Resize: empty {}x{} image", height, width);
  double longer = static_cast<double>(size) * std::max(height, width) / std::min(height, width);
  // Checked before the cast: a thin image would otherwise make a huge (or overflowing) side.
  int64_t side = longer > kMaxImageSide ? kMaxImageSide + 1 : static_cast<int64_t>(longer);
  check_image_size(width <= height ? side : size, width <= height ? size : side, 1,
                   fmt::format("Resize({}) of a {}x{} image", size, height, width));
  if (width <= height) return {static_cast<int>(longer), size};
  return {size, static_cast<int>(longer)};
}

Compose& Compose::add(ImageTransformPtr op) {
  SL_CHECK(op != nullptr, "Compose::add: null transform");
  ops_.push_back(std::move(op));
  return *this;
}

Compose& Compose::normalize(std::vector<float> mean, std::vector<float> std) {
  SL_CHECK(!mean.empty() && mean.size() == std.size(), "Normalize: {} means but {} stds", mean.size(), std.size());
  for (float s : std) SL_CHECK(s > 0, "Normalize: std {} must be positive", s);
  mean_ = std::move(mean);
  std_ = std::move(std);
  build_tables();
  return *this;
}

Image Compose::augment(Image image, SampleRng& rng) const {
  for (const ImageTransformPtr& op : ops_) image = op->apply(std::move(image), rng);
  return image;
}

void Compose::build_tables() {
  // (v / 255 - mean) / std in f32, as ToTensor + Normalize compute it, tabulated once per channel.
  size_t n = std::max<size_t>(1, mean_.size());
  table_.assign(n, {});
  for (size_t k = 0; k < n; ++k)
    for (int v = 0; v < 256; ++v) {
      float x = static_cast<float>(v) / 255.0f;
      table_[k][static_cast<size_t>(v)] = mean_.empty() ? x : (x - mean_[k]) / std_[k];
    }
}

void Compose::check_channels(int channels) const {
  SL_CHECK(table_.size() == 1 || static_cast<int>(table_.size()) == channels,
           "Normalize has {} channel values but the image has {} channels", table_.size(), channels);
}

void Compose::to_tensor(const Image& image, float* chw) const {
  const int c = image.channels;
  check_channels(c);
  const size_t plane = static_cast<size_t>(image.height) * image.width;
  const uint8_t* px = image.pixels.data();
  for (int ch = 0; ch < c; ++ch) {
    const float* t = table_[table_.size() == 1 ? 0 : static_cast<size_t>(ch)].data();
    float* out = chw + ch * plane;
    for (size_t i = 0; i < plane; ++i) out[i] = t[px[i * c + ch]];
  }
}

Tensor Compose::operator()(Image image, SampleRng& rng) const {
  Image out = augment(std::move(image), rng);
  Tensor t = Tensor::empty({out.channels, out.height, out.width});
  to_tensor(out, t.data<float>());
  return t;
}

std::string Compose::describe() const {
  std::vector<std::string> parts;
  for (const ImageTransformPtr& op : ops_) parts.push_back(op->name());
  parts.push_back("ToTensor");
  if (!mean_.empty()) parts.push_back(fmt::format("Normalize(mean={}, std={})", mean_, std_));
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace sl::data
