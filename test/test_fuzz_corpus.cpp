// Replays the fuzz corpus (test/fuzz/corpus/<target>/: the seeds and every crash input found, named
// regress-*) through the fuzz targets' own code, so the regular and sanitizer test runs keep them
// fixed without libFuzzer: each must end in success or an sl::Error that names the input.
#define SHIFTLAB_FUZZ_REPLAY
#include "fuzz/fuzz_cifar.cpp"
#include "fuzz/fuzz_config.cpp"
#include "fuzz/fuzz_deploy.cpp"
#include "fuzz/fuzz_idx.cpp"
#include "fuzz/fuzz_image.cpp"
#include "fuzz/fuzz_npy.cpp"
#include "fuzz/fuzz_safetensors.cpp"

#include <filesystem>
#include <map>

#include "engine/file_io.h"
#include "helpers.h"

namespace {
using Target = int (*)(const uint8_t*, size_t);
const std::map<std::string, Target> kTargets = {
    {"cifar", sl::fuzz::cifar}, {"config", sl::fuzz::config}, {"deploy", sl::fuzz::deploy}, {"idx", sl::fuzz::idx},
    {"image", sl::fuzz::image}, {"npy", sl::fuzz::npy},       {"safetensors", sl::fuzz::safetensors},
};
}  // namespace

TEST_CASE("fuzz corpus: every seed and regression input ends cleanly", "[fuzz][hostile]") {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(SHIFTLAB_TEST_DATA) / ".." / "fuzz" / "corpus";
  int regressions = 0;
  for (const auto& [name, target] : kTargets) {
    int files = 0;
    for (const auto& entry : fs::directory_iterator(root / name)) {
      INFO(entry.path().string());
      std::vector<char> bytes = sl::read_file(entry.path().string());
      CHECK_NOTHROW(target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      ++files;
      regressions += entry.path().filename().string().rfind("regress-", 0) == 0;
    }
    INFO(name);
    CHECK(files >= 2);
  }
  CHECK(regressions >= 14);  // the inputs of issue 19
}
