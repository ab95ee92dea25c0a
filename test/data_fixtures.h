// Fixtures for the data tests: writers for small IDX (plain and gzip), CIFAR-binary and image files
// (the temporary directory they go into is helpers.h's TempDir).
#pragma once
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/loader.h"
#include "engine/error.h"
#include "helpers.h"

namespace sl::test {

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  SL_CHECK(out.good(), "cannot write fixture {}", path);
}

// data::write_image after creating the parent folders.
inline void save_image(const std::string& path, const data::Image& image) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  data::write_image(path, image);
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string gzip(const std::string& bytes) {
  z_stream z{};
  SL_CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2");
  std::string out(deflateBound(&z, static_cast<uLong>(bytes.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  SL_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// An IDX file of u8: magic 00 00 08 <dims>, big-endian sizes, then the data.
inline std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
                             uint8_t type = 0x08) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((d >> shift) & 0xff));
  s.append(data.begin(), data.end());
  return s;
}

// n images of h x w where pixel (i, y, x) = (i * 7 + y * w + x) % 256, and labels i % classes.
inline std::vector<uint8_t> pattern_images(int n, int h, int w) {
  std::vector<uint8_t> v(static_cast<size_t>(n) * h * w);
  for (int i = 0; i < n; ++i)
    for (int p = 0; p < h * w; ++p) v[static_cast<size_t>(i) * h * w + p] = static_cast<uint8_t>((i * 7 + p) % 256);
  return v;
}

inline std::vector<uint8_t> pattern_labels(int n, int classes) {
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<uint8_t>(i % classes);
  return v;
}

// Writes {prefix}-images-idx3-ubyte and -labels-idx1-ubyte (gzipped when gz) with n 28x28 images.
inline void write_idx_pair(const std::string& dir, const std::string& prefix, int n, bool gz, int h = 28, int w = 28) {
  std::string images = idx_bytes({static_cast<uint32_t>(n), static_cast<uint32_t>(h), static_cast<uint32_t>(w)},
                                 pattern_images(n, h, w));
  std::string labels = idx_bytes({static_cast<uint32_t>(n)}, pattern_labels(n, 10));
  std::string ext = gz ? ".gz" : "";
  write_bytes(dir + "/" + prefix + "-images-idx3-ubyte" + ext, gz ? gzip(images) : images);
  write_bytes(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, gz ? gzip(labels) : labels);
}

// CIFAR records: label byte(s) then 3072 bytes R, G, B planes; pixel (c, y, x) of record i is
// (i + c * 50 + y * 3 + x) % 256.
inline std::string cifar_record(int i, const std::vector<uint8_t>& label_bytes) {
  std::string r(label_bytes.begin(), label_bytes.end());
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) r.push_back(static_cast<char>((i + c * 50 + y * 3 + x) % 256));
  return r;
}

// A w x h RGB image with a pattern that depends on `seed`.
inline data::Image pattern_image(int h, int w, int seed, int channels = 3) {
  data::Image img(h, w, channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) img.ptr(y, x)[c] = static_cast<uint8_t>((seed * 31 + y * 5 + x * 3 + c * 70) % 256);
  return img;
}

// Loader options in one line (C++17 has no designated initialisers).
inline data::LoaderOptions loader_options(int64_t batch_size, bool shuffle, uint64_t seed = 0, int workers = 0,
                                          bool prefetch = true) {
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.shuffle = shuffle;
  o.seed = seed;
  o.workers = workers;
  o.prefetch = prefetch;
  o.report_skipped = false;
  return o;
}

}  // namespace sl::test
