#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <utility>

#include "engine/error.h"
#include "engine/file_io.h"

namespace sl::data {

namespace {

namespace fs = std::filesystem;

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool has_image_extension(const fs::path& p) {
  const auto& exts = image_extensions();
  return std::find(exts.begin(), exts.end(), lower_extension(p)) != exts.end();
}

// torchvision lists these too, but stb_image cannot decode them.
bool is_unsupported_format(const fs::path& p) {
  std::string ext = lower_extension(p);
  return ext == ".tif" || ext == ".tiff" || ext == ".webp";
}

}  // namespace

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> exts = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                                ".pgm", ".tif",  ".tiff", ".webp"};
  return exts;
}

ImageFolderDataset::ImageFolderDataset(const std::string& root, ImageFolderOptions options)
    : root_(root), options_(options) {
  std::error_code ec;
  SL_CHECK(fs::is_directory(root, ec), "image folder '{}' does not exist or is not a directory", root);
  try {
    scan();
  } catch (const fs::filesystem_error& e) {  // unreadable folder, symlink loop, ...
    fail("image folder '{}': {}", root, e.what());
  }
}

void ImageFolderDataset::scan() {
  const std::string& root = root_;
  // Like os.scandir + is_dir(): every sub-directory (symlinks followed, hidden ones included) is a class.
  for (const fs::directory_entry& e : fs::directory_iterator(root))
    if (e.is_directory()) classes_.push_back(e.path().filename().string());
  std::sort(classes_.begin(), classes_.end());
  SL_CHECK(!classes_.empty(), "image folder '{}' has no class folders (expected {}/<class>/<image>.JPEG)", root, root);

  std::string first_unsupported;
  int64_t unsupported = 0;
  for (size_t c = 0; c < classes_.size(); ++c) {
    // os.walk order: directories sorted by path, files sorted by name within each.
    std::vector<std::pair<std::string, std::string>> files;
    fs::path class_dir = fs::path(root) / classes_[c];
    size_t prefix = class_dir.string().size();
    for (auto it = fs::recursive_directory_iterator(class_dir, fs::directory_options::follow_directory_symlink);
         it != fs::recursive_directory_iterator(); ++it) {
      // Only regular files (symlinks to them included): a FIFO or device named *.png would block
      // or never end when read.
      if (it->is_directory() || !has_image_extension(it->path()) || !it->is_regular_file()) continue;
      // The directory relative to root, by string surgery: fs::relative would stat every file.
      files.emplace_back(classes_[c] + it->path().parent_path().string().substr(prefix),
                         it->path().filename().string());
      if (is_unsupported_format(it->path()) && unsupported++ == 0) first_unsupported = it->path().string();
    }
    SL_CHECK(!files.empty(), "class folder {} is empty (no files ending in {})", class_dir.string(),
             fmt::join(image_extensions(), " "));
    std::sort(files.begin(), files.end());
    for (const auto& [dir, file] : files) {
      names_ += dir;
      names_ += '/';
      names_ += file;
      name_end_.push_back(static_cast<int64_t>(names_.size()));
      labels_.push_back(static_cast<int32_t>(c));
    }
  }
  SL_CHECK(unsupported == 0 || options_.skip_bad_images,
           "image folder '{}': {} TIFF/WebP images that stb_image cannot decode, first {} (convert them, or "
           "skip bad images)", root, unsupported, first_unsupported);
}

std::string ImageFolderDataset::path(int64_t index) const {
  check_index(index, size(), root_);
  auto i = static_cast<size_t>(index);
  int64_t begin = i == 0 ? 0 : name_end_[i - 1];
  return (fs::path(root_) / names_.substr(static_cast<size_t>(begin), static_cast<size_t>(name_end_[i] - begin)))
      .string();
}

int32_t ImageFolderDataset::label(int64_t index) const {
  check_index(index, size(), root_);
  return labels_[static_cast<size_t>(index)];
}

Sample ImageFolderDataset::get(int64_t index) const {
  Sample s;
  s.label = label(index);
  std::string file = path(index);
  try {
    s.image = read_image(file);
  } catch (const Error& e) {
    if (!options_.skip_bad_images) throw;
    s.skipped = true;
    s.error = e.what();
  }
  return s;
}

std::string ImageFolderDataset::describe() const {
  return fmt::format("image folder {}: {} images, {} classes", root_, size(), num_classes());
}

}  // namespace sl::data
