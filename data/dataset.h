// The dataset interface: an indexable collection of raw samples (8-bit HWC image + class label).
// Transforms (data/transforms.h) turn a sample into a normalised f32 CHW tensor; the loader
// (data/loader.h) batches, shuffles and parallelises. In-RAM datasets (IDX, CIFAR) hold one byte
// buffer; the image folder holds only file names and decodes on demand.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace sl::data {

struct Sample {
  Image image;
  int32_t label = 0;
  // Set (with the reason in `error`) only by datasets told to skip undecodable files; the loader
  // leaves such samples out of the batch and counts them.
  bool skipped = false;
  std::string error;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual int64_t num_classes() const = 0;
  // Sample `index` in [0, size()). Must be safe to call from several threads at once. Throws
  // sl::Error naming the file when the sample cannot be produced.
  virtual Sample get(int64_t index) const = 0;
  // Where sample `index` comes from, for error messages ("/x/train-images-idx3-ubyte.gz[17]").
  virtual std::string sample_name(int64_t index) const = 0;
  // One line for logs: "Fashion-MNIST train: 60000 images 1x28x28, 10 classes, /usr/share/...".
  virtual std::string describe() const = 0;
};

// N same-sized 8-bit images in one buffer, with labels: what IDX and CIFAR files decode to (and a
// handy synthetic dataset for tests). The samples may come from several files ("parts"), which
// sample_name() reports with the record number inside the file.
class ArrayDataset : public Dataset {
 public:
  enum class Layout { HWC, CHW };  // CIFAR stores planes (CHW); IDX images have one channel
  struct Part {
    std::string file;
    int64_t count = 0;
  };
  ArrayDataset(std::string name, std::vector<Part> parts, std::vector<uint8_t> pixels, Layout layout, int channels,
               int height, int width, std::vector<int32_t> labels, int64_t num_classes);

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t num_classes() const override { return num_classes_; }
  Sample get(int64_t index) const override;
  std::string sample_name(int64_t index) const override;
  std::string describe() const override;

  const std::vector<int32_t>& labels() const { return labels_; }
  const std::vector<uint8_t>& pixels() const { return pixels_; }

 private:
  std::string name_;
  std::vector<Part> parts_;
  std::vector<uint8_t> pixels_;
  Layout layout_;
  int channels_, height_, width_;
  std::vector<int32_t> labels_;
  int64_t num_classes_;
};

// Throws sl::Error naming `what` when index is outside [0, size).
void check_index(int64_t index, int64_t size, const std::string& what);

}  // namespace sl::data
