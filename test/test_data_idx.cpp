// IDX (MNIST-family) files: plain and gzipped fixtures written here, every kind of bad file, and
// Debian's Fashion-MNIST.
#include <cmath>

#include "data/idx.h"
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
}  // namespace

TEST_CASE("idx: plain and gzipped files decode to the same images and labels", "[data][idx]") {
  TempDir dir;
  test::write_idx_pair(dir / "plain", "train", 5, false);
  test::write_idx_pair(dir / "gz", "train", 5, true);
  test::write_idx_pair(dir / "gz", "t10k", 3, true, 4, 6);
  for (const char* sub : {"plain", "gz"}) {
    auto ds = load_idx_dir(dir / sub, true, 10, "test");
    REQUIRE(ds->size() == 5);
    CHECK(ds->num_classes() == 10);
    CHECK(ds->pixels() == test::pattern_images(5, 28, 28));
    Sample s = ds->get(3);
    CHECK(s.label == 3);
    CHECK(s.image.height == 28);
    CHECK(s.image.width == 28);
    CHECK(s.image.channels == 1);
    CHECK(s.image.at(2, 5, 0) == (3 * 7 + 2 * 28 + 5) % 256);
    CHECK(contains(ds->sample_name(3), "train-images-idx3-ubyte"));
    CHECK(contains(ds->sample_name(3), "[3]"));
  }
  auto test = load_idx_dir(dir / "gz", false, 10, "test");
  CHECK(test->size() == 3);
  CHECK(test->get(2).image.width == 6);
  CHECK(contains(test->describe(), "3 images 1x4x6"));
  CHECK(contains(error_of([&] { test->get(3); }), "sample index 3 is outside [0, 3)"));
}

TEST_CASE("idx: the .gz file is preferred when both exist", "[data][idx]") {
  TempDir dir;
  test::write_idx_pair(dir.str(), "train", 4, false);
  test::write_idx_pair(dir.str(), "train", 6, true);
  CHECK(load_idx_dir(dir.str(), true, 10, "test")->size() == 6);
}

TEST_CASE("idx: bad files give one error naming the file", "[data][idx][errors]") {
  TempDir dir;
  const std::string images = dir / "train-images-idx3-ubyte", labels = dir / "train-labels-idx1-ubyte";
  std::string good_images = test::idx_bytes({5, 28, 28}, test::pattern_images(5, 28, 28));
  std::string good_labels = test::idx_bytes({5}, test::pattern_labels(5, 10));
  auto load = [&] { load_idx(images, labels, 10, "test"); };
  std::string m;

  SECTION("missing file") {
    m = error_of([&] { load_idx_dir(dir.str(), true, 10, "Fashion-MNIST"); });
    CHECK(m == "Fashion-MNIST: cannot find " + images + ".gz (or " + images + " without .gz)");
    write_bytes(images, good_images);
    m = error_of([&] { load_idx_dir(dir.str(), true, 10, "Fashion-MNIST"); });
    CHECK(contains(m, labels + ".gz"));
    m = error_of(load);
    CHECK(contains(m, "cannot open '" + labels + "'"));
    CHECK(contains(m, "No such file"));
    m = error_of([&] { load_idx_dir(dir / "nothing", true, 10, "Fashion-MNIST"); });
    CHECK(contains(m, "does not exist"));
  }
  SECTION("wrong magic: a labels file where images are expected") {
    write_bytes(images, good_labels);
    write_bytes(labels, good_labels);
    m = error_of(load);
    CHECK(contains(m, images + ": wrong magic 0x00000801, expected 0x00000803 (IDX u8 images, 3 dims)"));
    CHECK(contains(m, "looks like an IDX labels file"));
  }
  SECTION("wrong magic: another element type, and a non-IDX file") {
    write_bytes(images, test::idx_bytes({5, 28, 28}, test::pattern_images(5, 28, 28), 0x0D));
    CHECK(contains(error_of(load), "wrong magic 0x00000D03"));
    write_bytes(images, "GIF89a not an idx file");
    CHECK(contains(error_of(load), images + ": wrong magic"));
  }
  SECTION("truncated plain file") {
    write_bytes(images, good_images.substr(0, good_images.size() - 10));
    write_bytes(labels, good_labels);
    m = error_of(load);
    CHECK(contains(m, images + ": truncated file"));
    CHECK(contains(m, "5 images (3920 data bytes)"));
    write_bytes(images, good_images.substr(0, 2));
    CHECK(contains(error_of(load), "truncated file: the IDX header needs 4 bytes"));
    write_bytes(images, good_images.substr(0, 9));
    CHECK(contains(error_of(load), "the header needs 16 bytes"));
  }
  SECTION("truncated gzip file") {
    std::string gz = test::gzip(good_images);
    write_bytes(images + ".gz", gz.substr(0, gz.size() / 2));
    write_bytes(labels, good_labels);
    m = error_of([&] { load_idx(images + ".gz", labels, 10, "test"); });
    CHECK(contains(m, images + ".gz: truncated file"));
    CHECK(contains(m, "unexpected end of file"));
    // Only the 8-byte gzip trailer (CRC, size) missing: every image is there but the file is cut.
    write_bytes(images + ".gz", gz.substr(0, gz.size() - 8));
    m = error_of([&] { load_idx(images + ".gz", labels, 10, "test"); });
    CHECK(m == images + ".gz: truncated file: the gzip stream ends early (zlib: unexpected end of file)");
  }
  SECTION("corrupt gzip data") {
    std::string gz = test::gzip(good_images);
    gz[gz.size() - 6] = static_cast<char>(gz[gz.size() - 6] ^ 0x55);  // damage the CRC
    write_bytes(images + ".gz", gz);
    write_bytes(labels, good_labels);
    m = error_of([&] { load_idx(images + ".gz", labels, 10, "test"); });
    CHECK(m == images + ".gz: corrupt data: incorrect data check");
  }
  SECTION("data after the announced images") {
    write_bytes(images, good_images + "xyz");
    write_bytes(labels, good_labels);
    CHECK(contains(error_of(load), images + ": unexpected data after the 5 images"));
  }
  SECTION("label out of range") {
    std::vector<uint8_t> y = test::pattern_labels(6, 10);
    y[5] = 12;
    write_bytes(images, test::idx_bytes({6, 28, 28}, test::pattern_images(6, 28, 28)));
    write_bytes(labels, test::idx_bytes({6}, y));
    CHECK(error_of(load) == labels + ": label 12 at index 5 is outside [0, 10)");
  }
  SECTION("image and label counts differ") {
    write_bytes(images, good_images);
    write_bytes(labels, test::idx_bytes({4}, test::pattern_labels(4, 10)));
    CHECK(error_of(load) == images + " has 5 images but " + labels + " has 4 labels");
  }
}

TEST_CASE("idx: Debian's Fashion-MNIST loads with 60000/10000 images and labels 0-9", "[data][idx][fashion]") {
  LoadedDataset train = make_dataset("fashion-mnist", "", true);
  LoadedDataset test = make_dataset("fashion-mnist", "", false);
  auto& tr = dynamic_cast<const ArrayDataset&>(*train.dataset);
  auto& te = dynamic_cast<const ArrayDataset&>(*test.dataset);
  REQUIRE(tr.size() == 60000);
  REQUIRE(te.size() == 10000);
  for (const ArrayDataset* ds : {&tr, &te}) {
    std::vector<int64_t> count(10, 0);
    int64_t out_of_range = 0;
    for (int32_t y : ds->labels()) {
      if (y < 0 || y >= 10)
        ++out_of_range;
      else
        ++count[static_cast<size_t>(y)];
    }
    CHECK(out_of_range == 0);
    for (int64_t c : count) CHECK(c == ds->size() / 10);  // Fashion-MNIST is balanced
  }
  CHECK(tr.labels()[0] == 9);  // "ankle boot", the first training image
  CHECK(tr.get(0).image.height == 28);
  // The registry's normalisation constants are the training set's pixel mean and std.
  double sum = 0, sq = 0;
  for (uint8_t v : tr.pixels()) {
    sum += v / 255.0;
    sq += (v / 255.0) * (v / 255.0);
  }
  auto n = static_cast<double>(tr.pixels().size());
  double mean = sum / n, stddev = std::sqrt(sq / n - mean * mean);
  CHECK(std::abs(mean - train.info.mean[0]) < 1e-6);
  CHECK(std::abs(stddev - train.info.std[0]) < 1e-6);
}
