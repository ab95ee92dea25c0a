// A decoded 8-bit image (height x width x channels, interleaved as stb_image gives it) and the
// pixel-level helpers the datasets and transforms share: decode with stb_image, write with
// stb_image_write (tests and the benchmark make their own fixtures), crop, flip and Pillow-exact
// bilinear resize.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sl::data {

// Limits on decoded images and on every transform's output, so a small hostile file (a 1 x 40000
// PNG is 157 bytes) cannot make a multi-gigabyte image: at most 2^26 pixels (e.g. 8192 x 8192), a
// side of at most 65536, and (for decoded files) an aspect ratio of at most 100:1.
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;
constexpr int64_t kMaxImageSide = 65536;
constexpr int64_t kMaxImageAspect = 100;

// Throws "<what>: a HxWxC image is too large (...)" unless 1 <= sides <= kMaxImageSide, pixels <=
// kMaxImagePixels and 1 <= channels <= 4.
void check_image_size(int64_t height, int64_t width, int64_t channels, const std::string& what);

struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // HWC, row-major, height * width * channels bytes

  Image() = default;
  Image(int h, int w, int c) : height(h), width(w), channels(c) {
    check_image_size(h, w, c, "image");
    pixels.assign(static_cast<size_t>(h) * w * c, 0);
  }
  // Pointer to pixel (y, x); its channels follow.
  uint8_t* ptr(int y, int x) { return pixels.data() + (static_cast<size_t>(y) * width + x) * channels; }
  const uint8_t* ptr(int y, int x) const { return pixels.data() + (static_cast<size_t>(y) * width + x) * channels; }
  uint8_t at(int y, int x, int c) const { return ptr(y, x)[c]; }
};

// Decodes a JPEG/PNG/BMP/PPM/PGM held in memory to 3-channel RGB (greyscale is replicated, alpha is
// dropped, as PIL's convert("RGB") does). `name` is only used in the error message.
Image decode_image(const uint8_t* data, size_t size, const std::string& name);
// Reads and decodes a file; errors name the file and carry stb_image's reason.
Image read_image(const std::string& path);
// Writes .png (lossless) or .jpg/.jpeg (quality 95), chosen by the extension.
void write_image(const std::string& path, const Image& image);

// Rows [top, top+h) and columns [left, left+w); parts outside the image are zero (the crop may be
// larger than the image, as torchvision pads before cropping).
Image crop(const Image& src, int top, int left, int h, int w);
// Mirrors the image left-right in place.
void flip_horizontal(Image& image);
// Resamples the region (top, left, h, w) of src to out_h x out_w with Pillow's bilinear filter
// (as torchvision's resized_crop on PIL images: crop, then Image.resize(BILINEAR)). When shrinking,
// the triangle filter widens with the scale factor (antialiasing). Bit-identical to Pillow.
Image resize_region(const Image& src, int top, int left, int h, int w, int out_h, int out_w);
inline Image resize(const Image& src, int out_h, int out_w) {
  return resize_region(src, 0, 0, src.height, src.width, out_h, out_w);
}

}  // namespace sl::data
