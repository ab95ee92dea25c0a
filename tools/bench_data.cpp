// `shiftlab bench data`: images/s of the data loaders with 1 and 2 worker threads: an IDX dataset
// (Fashion-MNIST by default, train split, normalised) and an image folder of synthetic 256x256
// JPEGs written to a temporary directory, with the ImageNet train transforms (random resized
// crop 224 + flip + normalize). Decode and augmentation run on the loader's threads while the
// consumer only takes batches, so the numbers are the loader's ceiling.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/registry.h"
#include "engine/rng.h"
#include "backends/cpu/simd/target.h"
#include "engine/threads.h"
#include "tools/commands.h"

namespace sl::tools {

namespace {

struct BenchDataOptions {
  std::string dataset = "fashion-mnist";
  std::string dir;  // "" = the dataset's default folder
  int64_t batches = 1000;
  int64_t batch_size = 64;
  int folder_images = 512;
  int64_t folder_batches = 16;
  std::vector<int> threads = {1, 2};
};

// A folder of synthetic JPEGs that removes itself.
class SyntheticFolder {
 public:
  SyntheticFolder(int images, int classes, int size) {
    root_ = std::filesystem::temp_directory_path() / ("shiftlab_bench_data_" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    for (int i = 0; i < images; ++i) {
      std::filesystem::path dir = root_ / "train" / fmt::format("class{:02d}", i % classes);
      std::filesystem::create_directories(dir);
      data::Image img(size, size, 3);
      // Smooth gradients plus noise: compresses and decodes like a photo rather than a flat field.
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          uint32_t noise = philox(static_cast<uint64_t>(i), static_cast<uint64_t>(y * size + x))[0];
          for (int c = 0; c < 3; ++c)
            img.ptr(y, x)[c] = static_cast<uint8_t>((x * (c + 1) + y * (3 - c) + i * 17 + (noise >> (8 * c)) % 24) % 256);
        }
      data::write_image((dir / fmt::format("{:04d}.jpg", i)).string(), img);
    }
  }
  ~SyntheticFolder() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  SyntheticFolder(const SyntheticFolder&) = delete;
  SyntheticFolder& operator=(const SyntheticFolder&) = delete;
  std::string train() const { return (root_ / "train").string(); }

 private:
  std::filesystem::path root_;
};

// Takes `batches` batches (running into further epochs when needed) and prints one table row.
void measure(const std::string& what, const std::shared_ptr<const data::Dataset>& ds, const data::Compose& transform,
             int threads, int64_t batches, int64_t batch_size) {
  ThreadLimit limit(threads);
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.workers = threads;
  o.seed = 1;
  data::DataLoader loader(ds, transform, o);
  SL_CHECK(loader.batches_per_epoch() > 0, "bench data: {} has fewer than {} images", what, batch_size);
  int64_t images = 0, taken = 0, epoch = 0;
  auto start = std::chrono::steady_clock::now();
  loader.start_epoch(epoch);
  while (taken < batches) {
    auto batch = loader.next();
    if (!batch) {
      loader.start_epoch(++epoch);
      continue;
    }
    images += batch->images.size(0);
    ++taken;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{:<48} {:>7} {:>8} {:>8} {:>9.3f} {:>10.0f}\n", what, threads, taken, images, seconds,
             static_cast<double>(images) / seconds);
}

void bench_data(const BenchDataOptions& o) {
  data::LoadedDataset idx = data::make_dataset(o.dataset, o.dir, true);
  fmt::print("data loaders, batch {}, prefetch on; 'threads' = the loader's decode/augment workers; {}\n", o.batch_size,
             cpu::cpu_description());
  fmt::print("{:<48} {:>7} {:>8} {:>8} {:>9} {:>10}\n", "loader", "threads", "batches", "images", "seconds",
             "images/s");
  std::string idx_name = fmt::format("{} train ({})", o.dataset, idx.transform.describe());
  if (idx_name.size() > 48) idx_name = fmt::format("{} train, default transforms", o.dataset);
  for (int t : o.threads) measure(idx_name, idx.dataset, idx.transform, t, o.batches, o.batch_size);

  fmt::print("writing {} synthetic 256x256 JPEGs...\n", o.folder_images);
  SyntheticFolder folder(o.folder_images, 8, 256);
  auto ds = std::make_shared<data::ImageFolderDataset>(folder.train());
  data::Compose train = data::default_transform("imagefolder", true);
  for (int t : o.threads)
    measure(fmt::format("image folder, {} JPEG 256px, RRC 224 + flip", o.folder_images), ds, train, t,
            o.folder_batches, o.batch_size);
}

}  // namespace

void add_bench_data_command(CLI::App& bench) {
  auto* cmd = bench.add_subcommand("data", "Images/s of the IDX and image-folder loaders with 1 and 2 threads");
  auto o = std::make_shared<BenchDataOptions>();
  cmd->add_option("--dataset", o->dataset, "Dataset for the in-memory loader (fashion-mnist, mnist, cifar10, ...)")
      ->capture_default_str();
  cmd->add_option("--data", o->dir, "Folder of that dataset (default: the dataset's default folder)");
  cmd->add_option("--batches", o->batches, "Batches to time for the in-memory dataset")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("-b,--batch-size", o->batch_size, "Batch size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--folder-images", o->folder_images, "Synthetic JPEGs to write for the image-folder loader")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--folder-batches", o->folder_batches, "Batches to time for the image-folder loader")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Worker thread counts to measure")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([o] { bench_data(*o); });
}

}  // namespace sl::tools
