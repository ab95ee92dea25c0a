// CIFAR-10 / CIFAR-100 binary files: small fixtures written here, the exact sizes of the official
// files, and every kind of bad file.
#include "data/cifar.h"
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

// `n` CIFAR-10 records with labels (first + i) % 10.
std::string cifar10_file(int n, int first) {
  std::string s;
  for (int i = 0; i < n; ++i) s += test::cifar_record(first + i, {static_cast<uint8_t>((first + i) % 10)});
  return s;
}
}  // namespace

TEST_CASE("cifar10: records decode to HWC images with the right labels across batch files", "[data][cifar]") {
  TempDir dir;
  for (int b = 1; b <= 5; ++b) write_bytes(dir / ("data_batch_" + std::to_string(b) + ".bin"), cifar10_file(3, (b - 1) * 3));
  write_bytes(dir / "test_batch.bin", cifar10_file(2, 100));
  auto train = load_cifar_files(cifar_files(dir.str(), CifarKind::cifar10, true), CifarKind::cifar10, 0, "c10");
  REQUIRE(train->size() == 15);
  CHECK(train->num_classes() == 10);
  for (int i = 0; i < 15; ++i) {
    Sample s = train->get(i);
    CHECK(s.label == i % 10);
    REQUIRE(s.image.channels == 3);
    REQUIRE(s.image.height == 32);
    // Planes on disk (R, G, B) become interleaved pixels.
    for (int c = 0; c < 3; ++c) CHECK(s.image.at(5, 7, c) == (i + c * 50 + 5 * 3 + 7) % 256);
  }
  CHECK(contains(train->sample_name(7), "data_batch_3.bin[1]"));
  auto test = load_cifar_files(cifar_files(dir.str(), CifarKind::cifar10, false), CifarKind::cifar10, 0, "c10");
  CHECK(test->size() == 2);
  CHECK(test->get(1).label == 101 % 10);
}

TEST_CASE("cifar10: the extracted archive folder is found, and official files must hold 10000 records",
          "[data][cifar]") {
  TempDir dir;
  std::string sub = dir / "cifar-10-batches-bin";
  write_bytes(sub + "/test_batch.bin", cifar10_file(4, 0));
  auto files = cifar_files(dir.str(), CifarKind::cifar10, false);
  REQUIRE(files.size() == 1);
  CHECK(files[0] == sub + "/test_batch.bin");
  std::string m = error_of([&] { make_dataset("cifar10", dir.str(), false); });
  CHECK(contains(m, sub + "/test_batch.bin: 4 records (12292 bytes), expected 10000 records (30730000 bytes)"));
  // A full-size file with one byte missing: not a whole number of records.
  write_bytes(sub + "/test_batch.bin", std::string(30729999, '\0'));
  m = error_of([&] { make_dataset("cifar10", dir.str(), false); });
  CHECK(m == sub + "/test_batch.bin: size 30729999 bytes is not a multiple of the 3073-byte CIFAR-10 record");
  // The exact official size loads (all-zero pixels, label 0).
  write_bytes(sub + "/test_batch.bin", std::string(30730000, '\0'));
  LoadedDataset d = make_dataset("cifar10", dir.str(), false);
  CHECK(d.dataset->size() == 10000);
  CHECK(d.info.num_classes == 10);
  CHECK(d.transform.ops().empty());  // test split: normalisation only
}

TEST_CASE("cifar100: the fine label is used and both labels are range-checked", "[data][cifar]") {
  TempDir dir;
  std::string s;
  for (int i = 0; i < 4; ++i) s += test::cifar_record(i, {static_cast<uint8_t>(i * 5), static_cast<uint8_t>(90 + i)});
  write_bytes(dir / "train.bin", s);
  auto ds = load_cifar_files(cifar_files(dir.str(), CifarKind::cifar100, true), CifarKind::cifar100, 0, "c100");
  REQUIRE(ds->size() == 4);
  CHECK(ds->num_classes() == 100);
  for (int i = 0; i < 4; ++i) CHECK(ds->get(i).label == 90 + i);
  CHECK(ds->get(2).image.at(0, 0, 1) == (2 + 50) % 256);

  s[3074 * 2] = 20;  // coarse label of record 2
  write_bytes(dir / "train.bin", s);
  CHECK(error_of([&] { load_cifar_files({dir / "train.bin"}, CifarKind::cifar100, 0, "c100"); }) ==
        dir / "train.bin" + ": coarse label 20 at index 2 is outside [0, 20)");
  s[3074 * 2] = 3;
  s[3074 * 3 + 1] = static_cast<char>(100);  // fine label of record 3
  write_bytes(dir / "train.bin", s);
  CHECK(error_of([&] { load_cifar_files({dir / "train.bin"}, CifarKind::cifar100, 0, "c100"); }) ==
        dir / "train.bin" + ": fine label 100 at index 3 is outside [0, 100)");
  write_bytes(dir / "train.bin", s.substr(0, 3074 * 2 + 5));
  CHECK(contains(error_of([&] { load_cifar_files({dir / "train.bin"}, CifarKind::cifar100, 0, "c100"); }),
                 "size 6153 bytes is not a multiple of the 3074-byte CIFAR-100 record"));
}

TEST_CASE("cifar: bad files give one error naming the file", "[data][cifar][errors]") {
  TempDir dir;
  const std::string f = dir / "data_batch_3.bin";
  SECTION("missing file") {
    for (int b : {1, 2, 4, 5}) write_bytes(dir / ("data_batch_" + std::to_string(b) + ".bin"), cifar10_file(1, 0));
    std::string m = error_of([&] { cifar_files(dir.str(), CifarKind::cifar10, true); });
    CHECK(contains(m, "cannot find '" + f + "'"));
    CHECK(contains(error_of([&] { load_cifar_files({f}, CifarKind::cifar10, 0, "x"); }), "cannot open '" + f + "'"));
    CHECK(contains(error_of([&] { make_dataset("cifar100", dir / "none", true); }), "train.bin"));
  }
  SECTION("size not a multiple of the record") {
    write_bytes(f, cifar10_file(3, 0).substr(0, 3073 * 3 - 1));
    CHECK(error_of([&] { load_cifar_files({f}, CifarKind::cifar10, 0, "x"); }) ==
          f + ": size 9218 bytes is not a multiple of the 3073-byte CIFAR-10 record");
  }
  SECTION("label out of range") {
    std::string s = cifar10_file(7, 0);
    s[3073 * 5] = 12;
    write_bytes(f, s);
    CHECK(error_of([&] { load_cifar_files({f}, CifarKind::cifar10, 0, "x"); }) ==
          f + ": label 12 at index 5 is outside [0, 10)");
  }
}
