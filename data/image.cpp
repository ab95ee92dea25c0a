#include "data/image.h"

// Declarations only: Debian's libstb.so (linked through pkg-config) holds the implementations.
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <memory>

#include "engine/error.h"
#include "engine/file_io.h"

namespace sl::data {

void check_image_size(int64_t height, int64_t width, int64_t channels, const std::string& what) {
  SL_CHECK(height >= 1 && width >= 1 && channels >= 1 && channels <= 4 && height <= kMaxImageSide &&
               width <= kMaxImageSide && height * width <= kMaxImagePixels,
           "{}: a {}x{}x{} image is outside the limits (sides 1 to {}, at most {} pixels)", what, height, width,
           channels, kMaxImageSide, kMaxImagePixels);
}

namespace {

// The next whitespace-separated header token of a binary PNM (comments from '#' to the line end).
bool pnm_number(const uint8_t* data, size_t size, size_t& at, uint64_t& value) {
  for (;;) {
    while (at < size && std::isspace(data[at])) ++at;
    if (at < size && data[at] == '#') {
      while (at < size && data[at] != '\n') ++at;
      continue;
    }
    break;
  }
  if (at >= size || !std::isdigit(data[at])) return false;
  value = 0;
  for (; at < size && std::isdigit(data[at]); ++at) {
    value = value * 10 + static_cast<uint64_t>(data[at] - '0');
    if (value > (uint64_t{1} << 32)) return false;
  }
  return true;
}

// stb_image sniffs a dozen formats, and some of its decoders (16-bit PNM, PSD, PIC, HDR, TGA, GIF)
// read out of bounds on malformed files (the image fuzzer crashed it with a 16-bit PGM). Only the
// formats the loader is for reach it: PNG, JPEG, BMP, and 8-bit binary PGM/PPM with the whole
// payload present.
void check_format(const uint8_t* data, size_t size, const std::string& name) {
  auto starts = [&](std::initializer_list<uint8_t> magic) {
    return size >= magic.size() && std::equal(magic.begin(), magic.end(), data);
  };
  if (starts({0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A}) || starts({0xFF, 0xD8, 0xFF}) || starts({'B', 'M'})) return;
  if (starts({'P', '5'}) || starts({'P', '6'})) {
    size_t at = 2;
    uint64_t w = 0, h = 0, maxval = 0;
    SL_CHECK(pnm_number(data, size, at, w) && pnm_number(data, size, at, h) && pnm_number(data, size, at, maxval) &&
                 at < size && std::isspace(data[at]),
             "image {} failed to decode: bad PGM/PPM header", name);
    SL_CHECK(maxval >= 1 && maxval <= 255, "image {}: a PGM/PPM with maximum value {} (only 8-bit ones are read)", name,
             maxval);
    const uint64_t need = w * h * (data[1] == '6' ? 3 : 1);
    SL_CHECK(w >= 1 && h >= 1 && size - at - 1 >= need, "image {} failed to decode: a {}x{} PGM/PPM needs {} bytes of pixels",
             name, w, h, need);
    return;
  }
  fail("image {} failed to decode: not a PNG, JPEG, BMP or 8-bit binary PGM/PPM file", name);
}

}  // namespace

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  SL_CHECK(size > 0, "image {} failed to decode: the file is empty", name);
  check_format(data, size, name);
  SL_CHECK(size <= static_cast<size_t>(INT_MAX), "image {} failed to decode: {} bytes is too large for stb_image",
           name, size);
  int w = 0, h = 0, channels_in_file = 0;
  // The header's dimensions first: nothing is decoded (or allocated) for an image over the limits.
  if (!stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &channels_in_file)) {
    const char* reason = stbi_failure_reason();
    fail("image {} failed to decode: {}", name, reason ? reason : "unknown format");
  }
  check_image_size(h, w, 3, "image " + name);
  SL_CHECK(std::max(w, h) <= kMaxImageAspect * std::min(w, h),
           "image {}: a {}x{} image has an aspect ratio above {}:1 (refused: resizing it would make a huge image)",
           name, h, w, kMaxImageAspect);
  // stb_image's failure reason is thread-local in this version, so parallel decodes are safe.
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &channels_in_file, 3), stbi_image_free);
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    fail("image {} failed to decode: {}", name, reason ? reason : "unknown error");
  }
  check_image_size(h, w, 3, "image " + name);  // the decoder agrees with the header it was checked against
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

namespace {

// Pillow's bilinear resampling (libImaging/Resample.c), reproduced operation for operation so
// results are bit-identical to torchvision's PIL path: a triangle filter whose support widens
// with the scale factor when shrinking (antialiasing), weights normalised in double and rounded
// to 22-bit fixed point, horizontal pass first, rounded to 8 bits between the passes.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;  // per output pixel: first input pixel and how many contribute
  std::vector<int32_t> weights;   // ksize per output pixel
};

Coefficients bilinear_coefficients(int in_size, int out_size) {
  Coefficients c;
  double scale = static_cast<double>(in_size) / out_size;
  double filterscale = std::max(scale, 1.0);
  double support = 1.0 * filterscale;  // the triangle filter's support is 1
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<size_t>(out_size));
  c.count.resize(static_cast<size_t>(out_size));
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(static_cast<size_t>(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    double center = (xx + 0.5) * scale;
    double ss = 1.0 / filterscale;
    int xmin = std::max(0, static_cast<int>(center - support + 0.5));
    int xmax = std::min(in_size, static_cast<int>(center + support + 0.5)) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      double t = std::abs((x + xmin - center + 0.5) * ss);
      k[static_cast<size_t>(x)] = t < 1.0 ? 1.0 - t : 0.0;
      ww += k[static_cast<size_t>(x)];
    }
    int32_t* out = &c.weights[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      double w = ww != 0.0 ? k[static_cast<size_t>(x)] / ww : k[static_cast<size_t>(x)];
      out[x] = static_cast<int32_t>(0.5 + w * (1 << kPrecisionBits));  // weights are >= 0
    }
    c.first[static_cast<size_t>(xx)] = xmin;
    c.count[static_cast<size_t>(xx)] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t acc) { return static_cast<uint8_t>(std::clamp(acc >> kPrecisionBits, 0, 255)); }

// Resamples along x (step = channels, the next pixel in a row) or along y (step = one row).
Image resample_horizontal(const Image& src, int out_w) {
  Coefficients co = bilinear_coefficients(src.width, out_w);
  Image out(src.height, out_w, src.channels);
  const int ch = src.channels;
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* row = src.ptr(y, 0);
    uint8_t* dst = out.ptr(y, 0);
    for (int xx = 0; xx < out_w; ++xx) {
      const int32_t* k = &co.weights[static_cast<size_t>(xx) * co.ksize];
      const uint8_t* in = row + static_cast<size_t>(co.first[static_cast<size_t>(xx)]) * ch;
      for (int c = 0; c < ch; ++c) {
        int32_t acc = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < co.count[static_cast<size_t>(xx)]; ++x) acc += in[x * ch + c] * k[x];
        dst[xx * ch + c] = clip8(acc);
      }
    }
  }
  return out;
}

Image resample_vertical(const Image& src, int out_h) {
  Coefficients co = bilinear_coefficients(src.height, out_h);
  Image out(out_h, src.width, src.channels);
  const size_t row_len = static_cast<size_t>(src.width) * src.channels;
  std::vector<int32_t> acc(row_len);
  for (int yy = 0; yy < out_h; ++yy) {
    const int32_t* k = &co.weights[static_cast<size_t>(yy) * co.ksize];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    // Row by row, so the inner loop runs over contiguous bytes.
    for (int y = 0; y < co.count[static_cast<size_t>(yy)]; ++y) {
      const uint8_t* in = src.ptr(co.first[static_cast<size_t>(yy)] + y, 0);
      for (size_t i = 0; i < row_len; ++i) acc[i] += in[i] * k[y];
    }
    uint8_t* dst = out.ptr(yy, 0);
    for (size_t i = 0; i < row_len; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace

Image resize_region(const Image& src, int top, int left, int h, int w, int out_h, int out_w) {
  SL_CHECK(top >= 0 && left >= 0 && h > 0 && w > 0 && top + h <= src.height && left + w <= src.width,
           "resize: region (top {}, left {}, {}x{}) is outside the {}x{} image", top, left, h, w, src.height,
           src.width);
  SL_CHECK(out_h > 0 && out_w > 0, "resize: output size {}x{} must be positive", out_h, out_w);
  // As torchvision's resized_crop: crop first, so the filter never reads outside the region.
  Image out = crop(src, top, left, h, w);
  if (out_w != w) out = resample_horizontal(out, out_w);
  if (out_h != h) out = resample_vertical(out, out_h);
  return out;
}

}  // namespace sl::data
