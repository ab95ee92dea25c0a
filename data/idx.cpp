#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace sl::data {

namespace {

// A gzFile that closes itself; reads report zlib's own message on failure.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    SL_CHECK(file_ != nullptr, "cannot open '{}': {}", path, errno ? std::strerror(errno) : "out of memory");
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes; fewer means the data ended (a truncated .gz included). A corrupt stream
  // (bad deflate data, CRC mismatch) throws with zlib's message.
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 24));
      int got = gzread(file_, static_cast<char*>(dst) + done, chunk);
      if (got < 0) fail("{}: corrupt data: {}", path_, error());
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }
  // zlib's description of the last problem ("unexpected end of file"), or "" when there is none.
  std::string error() {
    int code = Z_OK;
    const char* msg = gzerror(file_, &code);
    if (code == Z_OK || !msg) return "";
    std::string m = msg;  // zlib prefixes the path, which our messages already start with
    return m.rfind(path_ + ": ", 0) == 0 ? m.substr(path_.size() + 2) : m;
  }

 private:
  std::string path_;
  gzFile file_;
};

uint32_t big_endian_u32(const uint8_t* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

std::string truncated(const std::string& path, const std::string& needed, size_t got, GzReader& in) {
  std::string why = in.error();
  return fmt::format("{}: truncated file: {} but the data ends after {} bytes{}", path, needed, got,
                     why.empty() ? "" : " (zlib: " + why + ")");
}

}  // namespace

IdxArray read_idx_u8(const std::string& path, int ndims, const std::string& what) {
  std::error_code ec;
  SL_CHECK(std::filesystem::is_regular_file(path, ec), "cannot open '{}': {}", path,
           std::filesystem::exists(path, ec) ? "not a regular file" : "No such file or directory");
  GzReader in(path);
  uint8_t header[4];
  size_t got = in.read(header, 4);
  if (got < 4) fail("{}", truncated(path, "the IDX header needs 4 bytes", got, in));
  uint32_t magic = big_endian_u32(header);
  uint32_t expected = 0x0800u | static_cast<uint32_t>(ndims);
  if (magic != expected) {
    std::string hint;
    if (magic == 0x0801u || magic == 0x0803u)
      hint = fmt::format("; this looks like an IDX {} file", magic == 0x0801u ? "labels" : "images");
    fail("{}: wrong magic 0x{:08X}, expected 0x{:08X} (IDX u8 {}, {} dims){}", path, magic, expected, what, ndims,
         hint);
  }
  IdxArray out;
  std::vector<uint8_t> dims(4 * static_cast<size_t>(ndims));
  got = in.read(dims.data(), dims.size());
  if (got < dims.size())
    fail("{}", truncated(path, fmt::format("the header needs {} bytes", 4 + dims.size()), 4 + got, in));
  uint64_t total = 1;
  for (int d = 0; d < ndims; ++d) {
    out.dims.push_back(big_endian_u32(&dims[4 * static_cast<size_t>(d)]));
    // Checked before it can wrap: (2^16, 2^23, 2^25) multiplies to 2^64, which is 0 in 64 bits.
    SL_CHECK(!__builtin_mul_overflow(total, static_cast<uint64_t>(out.dims.back()), &total) &&
                 total < (uint64_t{1} << 40),
             "{}: implausible IDX dimensions {}", path, out.dims);
  }
  // Grow the buffer as data arrives instead of trusting the header with one huge allocation: each
  // step at most doubles it, so a 20-byte file announcing 2^39 bytes allocates about 1 MB.
  size_t header_bytes = 4 + dims.size();
  size_t done = 0;
  while (done < total) {
    size_t step = std::min<size_t>(total - done, std::max<size_t>(done, size_t{1} << 20));
    out.data.resize(done + step);
    size_t n = in.read(out.data.data() + done, step);
    done += n;
    if (n < step)
      fail("{}", truncated(path, fmt::format("the header announces {} {} ({} data bytes)", out.dims[0], what, total),
                           done, in));
  }
  uint8_t extra = 0;
  SL_CHECK(in.read(&extra, 1) == 0, "{}: unexpected data after the {} {} announced by the header ({} bytes expected)",
           path, out.dims[0], what, header_bytes + total);
  // All data arrived, but a gzip stream cut inside its 8-byte trailer (CRC, length) is still cut.
  std::string why = in.error();
  SL_CHECK(why.empty(), "{}: truncated file: the gzip stream ends early (zlib: {})", path, why);
  return out;
}

std::shared_ptr<ArrayDataset> load_idx(const std::string& images_path, const std::string& labels_path,
                                       int64_t num_classes, const std::string& name) {
  IdxArray images = read_idx_u8(images_path, 3, "images");
  IdxArray labels = read_idx_u8(labels_path, 1, "labels");
  SL_CHECK(images.dims[0] == labels.dims[0], "{} has {} images but {} has {} labels", images_path, images.dims[0],
           labels_path, labels.dims[0]);
  SL_CHECK(images.dims[1] > 0 && images.dims[2] > 0 && images.dims[1] <= 65536 && images.dims[2] <= 65536,
           "{}: bad image size {}x{}", images_path, images.dims[1], images.dims[2]);
  std::vector<int32_t> y(labels.data.size());
  for (size_t i = 0; i < y.size(); ++i) {
    y[i] = labels.data[i];
    SL_CHECK(y[i] < num_classes, "{}: label {} at index {} is outside [0, {})", labels_path, y[i], i, num_classes);
  }
  int64_t n = images.dims[0];
  return std::make_shared<ArrayDataset>(name, std::vector<ArrayDataset::Part>{{images_path, n}},
                                        std::move(images.data), ArrayDataset::Layout::HWC, 1,
                                        static_cast<int>(images.dims[1]), static_cast<int>(images.dims[2]),
                                        std::move(y), num_classes);
}

std::shared_ptr<ArrayDataset> load_idx_dir(const std::string& dir, bool train, int64_t num_classes,
                                           const std::string& name) {
  std::error_code ec;
  SL_CHECK(std::filesystem::is_directory(dir, ec), "{}: directory '{}' does not exist (point --data at the folder "
           "holding the IDX files)", name, dir);
  std::string prefix = train ? "train" : "t10k";
  auto find = [&](const std::string& stem) {
    std::string base = (std::filesystem::path(dir) / (prefix + stem)).string();
    if (std::filesystem::exists(base + ".gz", ec)) return base + ".gz";
    SL_CHECK(std::filesystem::exists(base, ec), "{}: cannot find {}.gz (or {} without .gz)", name, base, base);
    return base;
  };
  std::string images = find("-images-idx3-ubyte");  // images first: argument order is unspecified
  std::string labels = find("-labels-idx1-ubyte");
  return load_idx(images, labels, num_classes, name);
}

}  // namespace sl::data
