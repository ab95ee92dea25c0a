// Image files of an image folder (PNG, JPEG, BMP, PPM/PGM via stb_image), then the ImageNet
// training and evaluation transforms on what decodes: dimension limits before decoding, bounded
// transform outputs.
#include "data/image.h"
#include "data/transforms.h"
#include "fuzz_common.h"

namespace sl::fuzz {
inline int image(const uint8_t* data, size_t size) {
  static const sl::data::ImageTransformPtr resize = sl::data::resize(64);
  static const sl::data::ImageTransformPtr center = sl::data::center_crop(56);
  static const sl::data::ImageTransformPtr random = sl::data::random_resized_crop(48, 0.08, 1.0, 3.0 / 4, 4.0 / 3);
  sl::data::Image img;
  bool decoded = false;
  expect_clean("input.png", [&] {
    img = sl::data::decode_image(data, size, "input.png");
    decoded = true;
  });
  if (!decoded) return 0;
  // Transforms name no file (the loader prefixes the sample's name); any sl::Error is clean.
  try {
    sl::data::SampleRng rng(1, 0, static_cast<int64_t>(size));
    random->apply(img, rng);
    center->apply(resize->apply(std::move(img), rng), rng);
  } catch (const sl::Error&) {
  }
  return 0;
}
}  // namespace sl::fuzz

#ifndef SHIFTLAB_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return sl::fuzz::image(data, size); }
#endif
