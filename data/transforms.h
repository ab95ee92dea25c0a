// Per-sample transforms with torchvision's parameters and algorithms: random crop with zero
// padding, random horizontal flip, random resized crop, resize (shorter side), center crop, then
// to-tensor (bytes / 255) and normalize((x - mean) / std) into f32 CHW. Randomness comes from a
// SampleRng keyed by (seed, epoch, sample index), so a run is reproducible and independent of how
// many threads build the batch.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/image.h"
#include "engine/tensor.h"

namespace sl::data {

// Philox blocks for one sample: key = seed, counter = (index << 20) + block, stream = augmentation
// tag + epoch. Draws are consumed in order by the transforms of a Compose.
class SampleRng {
 public:
  SampleRng(uint64_t seed, int64_t epoch, int64_t index);
  uint32_t next_u32();
  double uniform() { return next_u32() * (1.0 / 4294967296.0); }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int64_t below(int64_t bound);  // [0, bound), bound > 0

 private:
  uint64_t seed_, stream_, counter_;
  std::array<uint32_t, 4> block_{};
  int used_ = 4;
};

// An image-to-image step (geometry); `apply` must be thread-safe (transforms are shared by workers).
class ImageTransform {
 public:
  virtual ~ImageTransform() = default;
  virtual Image apply(Image image, SampleRng& rng) const = 0;
  virtual std::string name() const = 0;  // "RandomCrop(32, padding=4)"
};
using ImageTransformPtr = std::shared_ptr<const ImageTransform>;

// Zero-pad by `padding` on every side, then a uniformly placed size x size crop.
ImageTransformPtr random_crop(int size, int padding = 0);
// Mirror left-right with probability p.
ImageTransformPtr random_horizontal_flip(double p = 0.5);
// Crop of random area fraction in [scale_min, scale_max] and aspect ratio log-uniform in
// [ratio_min, ratio_max] (10 attempts, then a center crop fallback), resized to size x size.
ImageTransformPtr random_resized_crop(int size, double scale_min = 0.08, double scale_max = 1.0,
                                      double ratio_min = 3.0 / 4.0, double ratio_max = 4.0 / 3.0);
// Resize so the shorter side is `size`, keeping the aspect ratio (the longer side truncated).
ImageTransformPtr resize(int size);
// The central size x size crop (zero-padded when the image is smaller).
ImageTransformPtr center_crop(int size);

// The parameter rules on their own, for tests and for anyone checking them against torchvision.
struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};
CropBox random_resized_crop_box(int height, int width, double scale_min, double scale_max, double ratio_min,
                                double ratio_max, SampleRng& rng);
CropBox center_crop_box(int height, int width, int size);
std::array<int, 2> resized_shorter_side(int height, int width, int size);  // {new_h, new_w}

// torchvision's Compose([...image ops..., ToTensor(), Normalize(mean, std)]).
class Compose {
 public:
  Compose() { build_tables(); }
  Compose& add(ImageTransformPtr op);
  // Per-channel mean and std (one value is used for every channel). Without it, to_tensor only
  // scales to [0, 1].
  Compose& normalize(std::vector<float> mean, std::vector<float> std);

  Image augment(Image image, SampleRng& rng) const;
  // Writes channels * height * width floats: (pixel / 255 - mean[c]) / std[c] in f32, the same
  // arithmetic as torchvision, through a 256-entry table per channel.
  void to_tensor(const Image& image, float* chw) const;
  // Throws unless normalize() was given one value or `channels` values.
  void check_channels(int channels) const;
  // augment + to_tensor as one [C, H, W] tensor.
  Tensor operator()(Image image, SampleRng& rng) const;

  const std::vector<ImageTransformPtr>& ops() const { return ops_; }
  const std::vector<float>& mean() const { return mean_; }
  const std::vector<float>& stddev() const { return std_; }
  std::string describe() const;  // "RandomCrop(32, padding=4), RandomHorizontalFlip(p=0.5), ToTensor, Normalize(...)"

 private:
  std::vector<ImageTransformPtr> ops_;
  std::vector<float> mean_, std_;
  void build_tables();
  std::vector<std::array<float, 256>> table_;  // per channel; one when there is one mean (or none)
};

}  // namespace sl::data
