#include "data/cifar.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/error.h"

namespace sl::data {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kPixels = 3 * 32 * 32;

struct Format {
  const char* title;
  int64_t label_bytes;  // 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine)
  int64_t classes;      // of the label we keep
  const char* subdir;
};

Format format_of(CifarKind kind) {
  if (kind == CifarKind::cifar10) return {"CIFAR-10", 1, 10, "cifar-10-batches-bin"};
  return {"CIFAR-100", 2, 100, "cifar-100-binary"};
}

}  // namespace

std::vector<std::string> cifar_files(const std::string& dir, CifarKind kind, bool train) {
  Format f = format_of(kind);
  std::vector<std::string> names;
  if (kind == CifarKind::cifar10) {
    if (train)
      for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
    else
      names.push_back("test_batch.bin");
  } else {
    names.push_back(train ? "train.bin" : "test.bin");
  }
  // Accept both the folder holding the .bin files and the folder the archive was extracted into.
  fs::path base(dir);
  if (!fs::exists(base / names[0]) && fs::exists(base / f.subdir / names[0])) base /= f.subdir;
  std::vector<std::string> files;
  for (const std::string& n : names) {
    fs::path p = base / n;
    SL_CHECK(fs::is_regular_file(p), "{}: cannot find '{}' (point --data at the folder holding the {} binary files)",
             f.title, p.string(), f.title);
    files.push_back(p.string());
  }
  return files;
}

std::shared_ptr<ArrayDataset> load_cifar_files(const std::vector<std::string>& files, CifarKind kind,
                                               int64_t records_per_file, const std::string& name) {
  Format f = format_of(kind);
  const int64_t record = f.label_bytes + kPixels;
  // Sizes first, so a bad file is reported before anything large is read.
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const std::string& file : files) {
    std::error_code ec;
    auto size = static_cast<int64_t>(fs::file_size(file, ec));
    SL_CHECK(!ec, "cannot open '{}': {}", file, ec.message());
    SL_CHECK(size % record == 0, "{}: size {} bytes is not a multiple of the {}-byte {} record", file, size, record,
             f.title);
    SL_CHECK(records_per_file <= 0 || size / record == records_per_file,
             "{}: {} records ({} bytes), expected {} records ({} bytes) in a {} file", file, size / record, size,
             records_per_file, records_per_file * record, f.title);
    counts.push_back(size / record);
    total += size / record;
  }
  std::vector<uint8_t> pixels(static_cast<size_t>(total * kPixels));
  std::vector<int32_t> labels(static_cast<size_t>(total));
  std::vector<ArrayDataset::Part> parts;
  std::vector<char> chunk;
  int64_t next = 0;
  for (size_t fi = 0; fi < files.size(); ++fi) {
    const std::string& file = files[fi];
    std::ifstream in(file, std::ios::binary);
    SL_CHECK(in.good(), "cannot open '{}': {}", file, std::strerror(errno));
    const int64_t per_chunk = 1024;
    for (int64_t r0 = 0; r0 < counts[fi]; r0 += per_chunk) {
      int64_t n = std::min(per_chunk, counts[fi] - r0);
      chunk.resize(static_cast<size_t>(n * record));
      SL_CHECK(in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())),
               "{}: read failed at record {} (file changed while reading?)", file, r0);
      for (int64_t r = 0; r < n; ++r) {
        const auto* rec = reinterpret_cast<const uint8_t*>(chunk.data() + r * record);
        for (int64_t l = 0; l < f.label_bytes; ++l) {
          // CIFAR-100: byte 0 is the coarse label (20 superclasses), byte 1 the fine one.
          int64_t limit = (kind == CifarKind::cifar100 && l == 0) ? 20 : f.classes;
          SL_CHECK(rec[l] < limit, "{}: {}label {} at index {} is outside [0, {})", file,
                   kind == CifarKind::cifar100 ? (l == 0 ? "coarse " : "fine ") : "", rec[l], r0 + r, limit);
        }
        labels[static_cast<size_t>(next)] = rec[f.label_bytes - 1];
        std::memcpy(pixels.data() + next * kPixels, rec + f.label_bytes, kPixels);
        ++next;
      }
    }
    parts.push_back({file, counts[fi]});
  }
  return std::make_shared<ArrayDataset>(name, std::move(parts), std::move(pixels), ArrayDataset::Layout::CHW, 3, 32,
                                        32, std::move(labels), f.classes);
}

std::shared_ptr<ArrayDataset> load_cifar(const std::string& dir, CifarKind kind, bool train) {
  int64_t per_file = kind == CifarKind::cifar10 ? 10000 : (train ? 50000 : 10000);
  std::string name = std::string(format_of(kind).title) + (train ? " train" : " test");
  return load_cifar_files(cifar_files(dir, kind, train), kind, per_file, name);
}

}  // namespace sl::data
