#include "data/image.h"

// Declarations only: Debian's libstb.so (linked through pkg-config) holds the implementations.
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <memory>

#include "engine/error.h"
#include "engine/file_io.h"

namespace sl::data {

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  SL_CHECK(size > 0, "image {} failed to decode: the file is empty", name);
  SL_CHECK(size <= static_cast<size_t>(INT_MAX), "image {} failed to decode: {} bytes is too large for stb_image",
           name, size);
  int w = 0, h = 0, channels_in_file = 0;
  // stb_image's failure reason is thread-local in this version, so parallel decodes are safe.
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &channels_in_file, 3), stbi_image_free);
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    fail("image {} failed to decode: {}", name, reason ? reason : "unknown error");
  }
  Image img;
  img.height = h;
  img.width = w;
  img.channels = 3;
  img.pixels.assign(pixels.get(), pixels.get() + static_cast<size_t>(w) * h * 3);
  return img;
}

Image read_image(const std::string& path) {
  std::vector<char> bytes = read_file(path);
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

void write_image(const std::string& path, const Image& image) {
  SL_CHECK(image.height > 0 && image.width > 0 && image.channels >= 1 && image.channels <= 4,
           "write_image {}: cannot write a {}x{}x{} image", path, image.height, image.width, image.channels);
  std::string ext = path.substr(std::min(path.size(), path.find_last_of('.')));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  int ok = 0;
  if (ext == ".png")
    ok = stbi_write_png(path.c_str(), image.width, image.height, image.channels, image.pixels.data(),
                        image.width * image.channels);
  else if (ext == ".jpg" || ext == ".jpeg")
    ok = stbi_write_jpg(path.c_str(), image.width, image.height, image.channels, image.pixels.data(), 95);
  else
    fail("write_image {}: unknown extension (use .png, .jpg or .jpeg)", path);
  SL_CHECK(ok, "write_image {}: stb_image_write failed", path);
}

Image crop(const Image& src, int top, int left, int h, int w) {
  SL_CHECK(h > 0 && w > 0, "crop: size {}x{} must be positive", h, w);
  Image out(h, w, src.channels);
  // Copy the rows and columns that overlap the source; everything else stays zero.
  int y0 = std::max(0, -top), y1 = std::min(h, src.height - top);
  int x0 = std::max(0, -left), x1 = std::min(w, src.width - left);
  if (x1 <= x0) return out;
  size_t row_bytes = static_cast<size_t>(x1 - x0) * src.channels;
  for (int y = y0; y < y1; ++y)
    std::copy_n(src.ptr(y + top, x0 + left), row_bytes, out.ptr(y, x0));
  return out;
}

void flip_horizontal(Image& image) {
  int c = image.channels;
  for (int y = 0; y < image.height; ++y) {
    uint8_t* row = image.ptr(y, 0);
    for (int a = 0, b = image.width - 1; a < b; ++a, --b) std::swap_ranges(row + a * c, row + (a + 1) * c, row + b * c);
  }
}

Image resize_region(const Image& src, int top, int left, int h, int w, int out_h, int out_w) {
  SL_CHECK(top >= 0 && left >= 0 && h > 0 && w > 0 && top + h <= src.height && left + w <= src.width,
           "resize: region (top {}, left {}, {}x{}) is outside the {}x{} image", top, left, h, w, src.height,
           src.width);
  SL_CHECK(out_h > 0 && out_w > 0, "resize: output size {}x{} must be positive", out_h, out_w);
  if (h == out_h && w == out_w) return crop(src, top, left, h, w);
  Image out(out_h, out_w, src.channels);
  // The region is addressed in place through the row stride: no intermediate copy of the crop.
  int ok = stbir_resize_uint8_generic(src.ptr(top, left), w, h, src.width * src.channels, out.pixels.data(), out_w,
                                      out_h, out_w * src.channels, src.channels, STBIR_ALPHA_CHANNEL_NONE, 0,
                                      STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, nullptr);
  SL_CHECK(ok, "resize: stb_image_resize failed ({}x{} to {}x{})", h, w, out_h, out_w);
  return out;
}

}  // namespace sl::data
