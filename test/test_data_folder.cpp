// Image folders (ImageNet layout): PNG/JPEG fixtures written with stb_image_write, class and file
// order as torchvision's ImageFolder, colour conversion, and bad folders and images.
#include <cmath>
#include <filesystem>

#include "data/image_folder.h"
#include "data/loader.h"
#include "data/registry.h"
#include "data_fixtures.h"
#include "helpers.h"

using namespace sl;
using namespace sl::data;
using sl::test::error_of;
using sl::test::TempDir;
using sl::test::write_bytes;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A smooth image (JPEG keeps it within a few levels).
Image gradient(int h, int w) {
  Image img(h, w, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      img.ptr(y, x)[0] = static_cast<uint8_t>(x * 255 / (w - 1));
      img.ptr(y, x)[1] = static_cast<uint8_t>(y * 255 / (h - 1));
      img.ptr(y, x)[2] = 128;
    }
  return img;
}

double max_abs_diff(const Image& a, const Image& b) {
  REQUIRE(a.pixels.size() == b.pixels.size());
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) worst = std::max(worst, std::abs(a.pixels[i] - b.pixels[i]));
  return worst;
}
}  // namespace

TEST_CASE("image folder: classes and files in torchvision's order, colour converted to RGB", "[data][folder]") {
  TempDir dir;
  const std::string root = dir / "train";
  // Created out of order; sorted by byte value: "C_upper" < "a_cat" < "b_dog".
  Image rgb = test::pattern_image(5, 4, 1);
  Image grey = test::pattern_image(3, 6, 2, 1);
  Image rgba = test::pattern_image(4, 4, 3, 4);
  test::save_image(root + "/b_dog/rgba.png", rgba);
  test::save_image(root + "/b_dog/smooth.jpg", gradient(16, 24));
  test::save_image(root + "/a_cat/2.png", rgb);
  test::save_image(root + "/a_cat/10.png", grey);
  test::save_image(root + "/a_cat/sub/0.png", rgb);
  test::save_image(root + "/a_cat/3.PNG", rgb);  // extensions are case-insensitive
  write_bytes(root + "/a_cat/notes.txt", "not an image");
  test::save_image(root + "/C_upper/x.JPEG", gradient(8, 8));
  // (the fixture writer uses the extension to choose the format; the loader sniffs the content)

  ImageFolderDataset ds(root);
  CHECK(ds.classes() == std::vector<std::string>{"C_upper", "a_cat", "b_dog"});
  REQUIRE(ds.size() == 7);
  CHECK(ds.num_classes() == 3);
  std::vector<std::string> expect = {"C_upper/x.JPEG", "a_cat/10.png", "a_cat/2.png", "a_cat/3.PNG",
                                     "a_cat/sub/0.png", "b_dog/rgba.png", "b_dog/smooth.jpg"};
  std::vector<int32_t> labels = {0, 1, 1, 1, 1, 2, 2};
  for (int64_t i = 0; i < ds.size(); ++i) {
    CHECK(ds.path(i) == root + "/" + expect[static_cast<size_t>(i)]);
    CHECK(ds.label(i) == labels[static_cast<size_t>(i)]);
  }
  CHECK(ds.sample_name(2) == root + "/a_cat/2.png");

  Sample s = ds.get(2);  // RGB PNG: exact
  CHECK(s.label == 1);
  CHECK(s.image.pixels == rgb.pixels);
  s = ds.get(1);  // greyscale PNG: the grey value in all three channels
  REQUIRE(s.image.channels == 3);
  REQUIRE(s.image.height == 3);
  REQUIRE(s.image.width == 6);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 6; ++x)
      for (int c = 0; c < 3; ++c) CHECK(s.image.at(y, x, c) == grey.at(y, x, 0));
  s = ds.get(5);  // RGBA PNG: alpha dropped
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) CHECK(s.image.at(y, x, c) == rgba.at(y, x, c));
  s = ds.get(6);  // JPEG: lossy, close
  CHECK(s.image.height == 16);
  CHECK(s.image.width == 24);
  CHECK(max_abs_diff(s.image, gradient(16, 24)) <= 8);
}

TEST_CASE("image folder: the default val transforms give 224x224 batches", "[data][folder]") {
  TempDir dir;
  test::save_image(dir / "val/b/0.jpg", gradient(200, 300));
  test::save_image(dir / "val/a/0.png", test::pattern_image(256, 230, 4));
  test::save_image(dir / "train/a/0.png", test::pattern_image(100, 120, 5));
  LoadedDataset val = make_dataset("imagefolder", dir.str(), false);
  CHECK(val.info.num_classes == 2);
  DataLoader loader(val.dataset, val.transform, test::loader_options(4, false));
  auto batch = loader.next();
  REQUIRE(batch);
  CHECK(batch->images.shape() == Shape{2, 3, 224, 224});
  CHECK(batch->labels.to_vector<int32_t>() == std::vector<int32_t>{0, 1});
  LoadedDataset train = make_dataset("imagefolder", dir.str(), true);
  DataLoader train_loader(train.dataset, train.transform, test::loader_options(4, true));
  CHECK(train_loader.next()->images.shape() == Shape{1, 3, 224, 224});
}

TEST_CASE("image folder: bad folders and images give one error naming the file", "[data][folder][errors]") {
  TempDir dir;
  const std::string root = dir / "train";
  std::string m;
  SECTION("missing root, no classes, empty class folder") {
    CHECK(contains(error_of([&] { ImageFolderDataset ds(root); }), "image folder '" + root + "' does not exist"));
    std::filesystem::create_directories(root);
    write_bytes(root + "/readme.txt", "x");
    CHECK(contains(error_of([&] { ImageFolderDataset ds(root); }), "has no class folders"));
    test::save_image(root + "/cat/001.png", test::pattern_image(4, 4, 1));
    write_bytes(root + "/dog/notes.txt", "no images here");
    m = error_of([&] { ImageFolderDataset ds(root); });
    CHECK(contains(m, "class folder " + root + "/dog is empty"));
    CHECK(contains(m, ".jpeg"));
    CHECK(contains(error_of([&] { make_dataset("imagefolder", "", true); }), "needs --data DIR"));
  }
  SECTION("an image that fails to decode") {
    test::save_image(root + "/cat/000.png", test::pattern_image(4, 4, 1));
    write_bytes(root + "/cat/001.jpg", "this is not a JPEG at all");
    ImageFolderDataset ds(root);
    m = error_of([&] { ds.get(1); });
    CHECK(contains(m, "image " + root + "/cat/001.jpg failed to decode: "));
    CHECK(m.size() > ("image " + root + "/cat/001.jpg failed to decode: ").size());  // stb's reason follows
    // Through the loader (background thread + worker threads), the same error reaches next().
    DataLoader loader(std::make_shared<ImageFolderDataset>(root), Compose(), test::loader_options(2, false));
    CHECK(contains(error_of([&] { loader.next(); }), root + "/cat/001.jpg failed to decode"));
    CHECK(contains(error_of([&] { loader.next(); }), root + "/cat/001.jpg failed to decode"));  // stays failed
  }
  SECTION("a truncated PNG and an empty file") {
    test::save_image(root + "/cat/000.png", test::pattern_image(40, 40, 1));
    std::string png = test::read_bytes(root + "/cat/000.png");
    write_bytes(root + "/cat/000.png", png.substr(0, png.size() / 2));
    write_bytes(root + "/cat/001.png", "");
    ImageFolderDataset ds(root);
    CHECK(contains(error_of([&] { ds.get(0); }), "image " + root + "/cat/000.png failed to decode"));
    CHECK(contains(error_of([&] { ds.get(1); }), root + "/cat/001.png failed to decode: the file is empty"));
  }
  SECTION("formats stb_image cannot decode are refused up front") {
    test::save_image(root + "/cat/000.png", test::pattern_image(4, 4, 1));
    write_bytes(root + "/cat/001.webp", "RIFF....WEBP");
    m = error_of([&] { ImageFolderDataset ds(root); });
    CHECK(contains(m, "1 TIFF/WebP images"));
    CHECK(contains(m, root + "/cat/001.webp"));
  }
}

TEST_CASE("image folder: skip_bad_images leaves undecodable files out, counted and reported", "[data][folder]") {
  TempDir dir;
  const std::string root = dir / "train";
  for (int i = 0; i < 5; ++i) test::save_image(root + "/a/" + std::to_string(i) + ".png", test::pattern_image(8, 8, i));
  write_bytes(root + "/a/2.png", "corrupt");
  write_bytes(root + "/b/0.jpg", "corrupt too");
  write_bytes(root + "/b/1.webp", "RIFF");
  auto ds = std::make_shared<ImageFolderDataset>(root, ImageFolderOptions{true});
  REQUIRE(ds->size() == 7);
  Sample s = ds->get(2);
  CHECK(s.skipped);
  CHECK(contains(s.error, root + "/a/2.png failed to decode"));
  CHECK_FALSE(ds->get(1).skipped);

  for (bool prefetch : {false, true}) {
    DataLoader loader(ds, Compose(), test::loader_options(4, false, 0, 0, prefetch));
    auto b0 = loader.next();
    REQUIRE(b0);
    CHECK(b0->indices == std::vector<int64_t>{0, 1, 3});
    CHECK(b0->images.size(0) == 3);
    CHECK(b0->labels.to_vector<int32_t>() == std::vector<int32_t>{0, 0, 0});
    REQUIRE(b0->skipped.size() == 1);
    CHECK(contains(b0->skipped[0], "2.png"));
    auto b1 = loader.next();
    REQUIRE(b1);
    CHECK(b1->indices == std::vector<int64_t>{4});
    CHECK(b1->skipped.size() == 2);
    CHECK_FALSE(loader.next());
    CHECK(loader.skipped() == 3);
  }
  // A batch whose every image is bad is passed over, not returned empty.
  DataLoader loader(ds, Compose(), test::loader_options(1, false));
  int64_t batches = 0;
  while (auto b = loader.next()) ++batches;
  CHECK(batches == 4);
  CHECK(loader.skipped() == 3);
}
