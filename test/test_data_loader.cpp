// The loader: batching, drop-last, subset, seeded shuffles, bit-identical batches for any worker
// count and with or without prefetching, errors from worker threads, clean shutdown; and the
// dataset registry.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>

#include "data/loader.h"
#include "data/registry.h"
#include "data_fixtures.h"
#include "engine/rng.h"
#include "helpers.h"

using namespace sl;
using namespace sl::data;
using sl::test::error_of;
using sl::test::loader_options;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// n random 3x32x32 CIFAR-like images with labels i % 10.
std::shared_ptr<ArrayDataset> random_dataset(int n, int c = 3, int hw = 32) {
  std::vector<uint8_t> px(static_cast<size_t>(n) * c * hw * hw);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(philox(11, i)[0]);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = i % 10;
  return std::make_shared<ArrayDataset>("random", std::vector<ArrayDataset::Part>{}, std::move(px),
                                        ArrayDataset::Layout::CHW, c, hw, hw, std::move(labels), 10);
}

// Wraps a dataset: throws at one index, sleeps per sample, or returns images of varying size.
class TrickyDataset : public Dataset {
 public:
  std::shared_ptr<ArrayDataset> inner = random_dataset(40, 1, 8);
  int64_t throw_at = -1;
  bool throw_std = false;
  int sleep_ms = 0;
  bool vary_size = false;
  int64_t size() const override { return inner->size(); }
  int64_t num_classes() const override { return 10; }
  Sample get(int64_t index) const override {
    if (sleep_ms) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    if (index == throw_at) {
      if (throw_std) throw std::runtime_error("plain std exception");
      fail("tricky[{}]: cannot read", index);
    }
    Sample s = inner->get(index);
    if (vary_size && index == 3) s.image = Image(9, 8, 1);
    return s;
  }
  std::string sample_name(int64_t index) const override { return fmt::format("tricky[{}]", index); }
  std::string describe() const override { return "tricky"; }
};

std::vector<Batch> epoch(DataLoader& loader, int64_t e) {
  loader.start_epoch(e);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}
}  // namespace

TEST_CASE("loader: batches cover the epoch, with drop_last and subset", "[data][loader]") {
  auto ds = random_dataset(100);
  Compose t;
  DataLoader loader(ds, t, loader_options(32, false));
  CHECK(loader.batches_per_epoch() == 4);
  std::vector<Batch> batches = epoch(loader, 0);
  REQUIRE(batches.size() == 4);
  CHECK(batches[0].images.shape() == Shape{32, 3, 32, 32});
  CHECK(batches[0].images.dtype() == DType::f32);
  CHECK(batches[0].labels.dtype() == DType::i32);
  CHECK(batches[3].images.shape() == Shape{4, 3, 32, 32});
  std::vector<int64_t> seen;
  for (const Batch& b : batches) {
    std::vector<int32_t> labels = b.labels.to_vector<int32_t>();
    for (size_t r = 0; r < b.indices.size(); ++r) CHECK(labels[r] == b.indices[r] % 10);
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
  }
  std::vector<int64_t> all(100);
  std::iota(all.begin(), all.end(), 0);
  CHECK(seen == all);
  // Row 5 of batch 1 is sample 37, scaled to [0, 1] (channel 2, pixel (4, 6) of the CHW buffer).
  float v = batches[1].images.to_vector<float>()[static_cast<size_t>(((5 * 3 + 2) * 32 + 4) * 32 + 6)];
  CHECK(v == static_cast<float>(ds->pixels()[static_cast<size_t>(37 * 3072 + 2 * 1024 + 4 * 32 + 6)]) / 255.0f);
  CHECK_FALSE(loader.next());  // stays at the end
  CHECK_FALSE(loader.next());

  LoaderOptions o = loader_options(32, true);
  o.drop_last = true;
  DataLoader dropping(ds, t, o);
  CHECK(dropping.batches_per_epoch() == 3);
  batches = epoch(dropping, 0);
  CHECK(batches.size() == 3);
  for (const Batch& b : batches) CHECK(b.images.size(0) == 32);

  o = loader_options(8, true);
  o.subset = 20;  // the first 20 samples, then shuffled
  DataLoader sub(ds, t, o);
  CHECK(sub.size() == 20);
  CHECK(sub.batches_per_epoch() == 3);
  std::set<int64_t> used;
  for (const Batch& b : epoch(sub, 1)) used.insert(b.indices.begin(), b.indices.end());
  CHECK(used.size() == 20);
  CHECK(*used.rbegin() == 19);
  o.subset = 1000;  // more than the dataset: all of it
  CHECK(DataLoader(ds, t, o).size() == 100);
}

TEST_CASE("loader: the shuffle is a function of (seed, epoch)", "[data][loader]") {
  auto ds = random_dataset(50);
  DataLoader a(ds, Compose(), loader_options(16, true, 7));
  DataLoader b(ds, Compose(), loader_options(16, true, 7));
  DataLoader c(ds, Compose(), loader_options(16, true, 8));
  a.start_epoch(0);
  b.start_epoch(0);
  c.start_epoch(0);
  CHECK(a.order() == b.order());
  CHECK(a.order() != c.order());
  CHECK(a.order() == shuffled_indices(50, 7, 0));
  std::vector<int64_t> sorted = a.order();
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(50);
  std::iota(all.begin(), all.end(), 0);
  CHECK(sorted == all);  // a permutation
  CHECK(a.order() != all);
  std::vector<int64_t> epoch0 = a.order();
  a.start_epoch(1);
  CHECK(a.order() != epoch0);
  a.start_epoch(0);
  CHECK(a.order() == epoch0);
  // Every position receives every sample about equally often over many epochs.
  std::vector<int> first(10, 0);
  for (int e = 0; e < 2000; ++e) ++first[static_cast<size_t>(shuffled_indices(10, 3, e)[0])];
  for (int count : first) CHECK(count > 140);
}

TEST_CASE("loader: an epoch started at batch k yields the same batches k.. as the full epoch", "[data][loader]") {
  auto ds = random_dataset(70);
  Compose t = default_transform("cifar10", true);
  DataLoader full(ds, t, loader_options(16, true, 5));
  DataLoader resumed(ds, t, loader_options(16, true, 5));
  std::vector<Batch> all = epoch(full, 3);
  resumed.start_epoch(3, 2);
  std::vector<Batch> rest;
  while (auto b = resumed.next()) rest.push_back(*b);
  REQUIRE(rest.size() == all.size() - 2);
  for (size_t i = 0; i < rest.size(); ++i) {
    CHECK(rest[i].number == all[i + 2].number);
    CHECK(rest[i].images.to_vector<float>() == all[i + 2].images.to_vector<float>());
    CHECK(rest[i].labels.to_vector<int32_t>() == all[i + 2].labels.to_vector<int32_t>());
  }
  CHECK(error_of([&] { resumed.start_epoch(0, 99); }).find("first batch 99") != std::string::npos);
}

TEST_CASE("loader: 1 or 2 workers, with or without prefetch, give bit-identical batches", "[data][loader]") {
  auto ds = random_dataset(120);
  Compose t = default_transform("cifar10", true);  // random crop + flip + normalize
  auto run = [&](int workers, bool prefetch) {
    DataLoader loader(ds, t, loader_options(25, true, 42, workers, prefetch));
    std::vector<float> all;
    for (int64_t e : {0, 1}) {
      for (const Batch& b : epoch(loader, e)) {
        std::vector<float> v = b.images.to_vector<float>();
        all.insert(all.end(), v.begin(), v.end());
        for (int64_t i : b.indices) all.push_back(static_cast<float>(i));
      }
    }
    return all;
  };
  std::vector<float> reference = run(1, false);
  CHECK(reference.size() == 2 * 120 * (3 * 32 * 32 + 1));
  CHECK(run(2, false) == reference);
  CHECK(run(1, true) == reference);
  CHECK(run(2, true) == reference);
  CHECK(run(0, true) == reference);
  // Augmentation really happens and changes with the epoch: sample 0 differs between epochs.
  SampleRng r0(42, 0, 0), r1(42, 1, 0);
  CHECK(t(ds->get(0).image, r0).to_vector<float>() != t(ds->get(0).image, r1).to_vector<float>());
}

TEST_CASE("loader: errors on worker threads reach next(), naming the sample", "[data][loader][errors]") {
  for (bool prefetch : {false, true}) {
    auto ds = std::make_shared<TrickyDataset>();
    ds->throw_at = 13;
    DataLoader loader(ds, Compose(), loader_options(5, false, 0, 2, prefetch));
    CHECK(loader.next());  // samples 0-4
    CHECK(loader.next());  // 5-9
    CHECK(error_of([&] { loader.next(); }) == "tricky[13]: cannot read");
    CHECK(error_of([&] { loader.next(); }) == "tricky[13]: cannot read");  // no silent skipping
    ds->throw_at = -1;
    loader.start_epoch(1);  // a new epoch starts clean
    CHECK(epoch(loader, 1).size() == 8);
    ds->throw_at = 2;
    ds->throw_std = true;
    loader.start_epoch(2);
    CHECK_THROWS_WITH(loader.next(), "plain std exception");
  }
  auto ds = std::make_shared<TrickyDataset>();
  ds->vary_size = true;
  DataLoader loader(ds, Compose(), loader_options(5, false));
  std::string m = error_of([&] { loader.next(); });
  CHECK(contains(m, "tricky[3] is 1x9x8 after the transforms but tricky[0] is 1x8x8"));
  // A transform error names the sample it failed on.
  Compose crop;
  crop.add(random_crop(10));
  DataLoader cropping(std::make_shared<TrickyDataset>(), crop, loader_options(5, false));
  CHECK(contains(error_of([&] { cropping.next(); }), "tricky[0]: RandomCrop(10, padding=0): the padded image 8x8"));
  DataLoader rgb_stats(std::make_shared<TrickyDataset>(), default_transform("cifar10", false), loader_options(5, false));
  CHECK(error_of([&] { rgb_stats.next(); }) == "tricky[0]: Normalize has 3 channel values but the image has 1 channels");
}

TEST_CASE("loader: stopping early, restarting and destroying never hang", "[data][loader]") {
  auto ds = std::make_shared<TrickyDataset>();
  ds->sleep_ms = 20;  // 5 samples on 1 worker: ~100 ms per batch
  auto start = std::chrono::steady_clock::now();
  {
    DataLoader loader(ds, Compose(), loader_options(5, true, 0, 1, true));
    CHECK(loader.next());
    loader.start_epoch(3);  // abandons the prefetched batch of epoch 0
    CHECK(loader.next());
  }  // destroyed with batch 1 of epoch 3 in flight
  { DataLoader unused(ds, Compose(), loader_options(5, true, 0, 1, true)); }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds < 2.0);
}

TEST_CASE("registry: names, defaults and errors", "[data][registry]") {
  CHECK(dataset_names() ==
        std::vector<std::string>{"fashion-mnist", "mnist", "kmnist", "cifar10", "cifar100", "imagefolder"});
  std::string m = error_of([] { dataset_info("svhn"); });
  CHECK(m == "unknown dataset 'svhn' (valid: fashion-mnist, mnist, kmnist, cifar10, cifar100, imagefolder)");
  CHECK(contains(error_of([] { make_dataset("imagenet", "", true); }), "valid: fashion-mnist"));
  CHECK(dataset_info("fashion-mnist").default_dir == "/usr/share/datasets/fashion-mnist");
  CHECK(dataset_info("mnist").mean == std::vector<float>{0.1307f});
  CHECK(dataset_info("cifar100").num_classes == 100);
  CHECK(dataset_info("cifar10").std == std::vector<float>{0.2023f, 0.1994f, 0.2010f});
  CHECK(dataset_info("imagefolder").image_shape == Shape{3, 224, 224});
  CHECK(default_transform("cifar10", true).describe() ==
        "RandomCrop(32, padding=4), RandomHorizontalFlip(p=0.5), ToTensor, Normalize(mean=[0.4914, 0.4822, 0.4465], "
        "std=[0.2023, 0.1994, 0.201])");
  CHECK(default_transform("imagefolder", false).describe() ==
        "Resize(256, bilinear), CenterCrop(224), ToTensor, Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, "
        "0.225])");
  CHECK(default_transform("mnist", true).ops().empty());
  CHECK(contains(error_of([] { make_dataset("mnist", "/nonexistent/mnist", true); }), "/nonexistent/mnist"));
}

TEST_CASE("loader: a Fashion-MNIST epoch in normalised batches of 64", "[data][loader][fashion]") {
  LoadedDataset d = make_dataset("fashion-mnist", "", true);
  DataLoader loader(d.dataset, d.transform, loader_options(64, true, 1, 2));
  CHECK(loader.batches_per_epoch() == 938);
  int64_t images = 0;
  double sum = 0;
  std::vector<int64_t> per_class(10, 0);
  for (const Batch& b : epoch(loader, 0)) {
    images += b.images.size(0);
    CHECK(b.images.shape()[1] == 1);
    for (float v : b.images.to_vector<float>()) sum += v;
    for (int32_t y : b.labels.to_vector<int32_t>()) ++per_class[static_cast<size_t>(y)];
  }
  CHECK(images == 60000);
  for (int64_t c : per_class) CHECK(c == 6000);
  CHECK(std::abs(sum / (60000.0 * 784)) < 1e-4);  // normalised with the training set's own mean
}

TEST_CASE("cli: shiftlab bench data prints images/s for both loaders", "[data][cli]") {
  std::string cmd = std::string(SHIFTLAB_CLI) +
                    " bench data --batches 5 -b 8 --folder-images 16 --folder-batches 2 --threads 1 2 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  int status = pclose(pipe);
  INFO(out);
  CHECK(status == 0);
  CHECK(contains(out, "images/s"));
  CHECK(contains(out, "fashion-mnist train"));
  CHECK(contains(out, "image folder, 16 JPEG 256px"));
  CHECK(std::count(out.begin(), out.end(), '\n') >= 7);  // header lines + 4 rows
  FILE* bad = popen((std::string(SHIFTLAB_CLI) + " bench data --dataset svhn 2>&1").c_str(), "r");
  REQUIRE(bad != nullptr);
  out.clear();
  while (size_t n = fread(buf, 1, sizeof buf, bad)) out.append(buf, n);
  CHECK(pclose(bad) != 0);
  CHECK(contains(out, "unknown dataset 'svhn'"));
}
