// Issue 19's command-line faults, run as real processes: absurd thread counts, resuming with other
// model/quantizer/schedule settings, a resume after a kill between the metrics row and the
// checkpoint, a first epoch that never finished, a non-finite weight in `inspect`, a full disk and
// a read-only output directory.
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "data_fixtures.h"
#include "engine/file_io.h"
#include "engine/factory.h"
#include "engine/safetensors.h"
#include "helpers.h"

using namespace sl;
using sl::test::run_cli;
using sl::test::TempDir;

namespace {
const std::string kQuick = " --subset 600 --test-subset 200 --batch-size 50 --test-batch-size 200 --print-freq 1000";
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<int64_t> metric_epochs(const std::string& dir) {
  std::ifstream in(dir + "/metrics.jsonl");
  std::vector<int64_t> epochs;
  for (std::string line; std::getline(in, line);) epochs.push_back(nlohmann::json::parse(line)["epoch"].get<int64_t>());
  return epochs;
}

int temp_files(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += has(e.path().filename().string(), ".tmp.");
  return n;
}

// A tmpfs mounted at `dir` for the test's lifetime (CI runs as root); empty reason when mounted.
struct TmpfsMount {
  TmpfsMount(const std::string& dir, const std::string& options) : dir_(dir) {
    std::filesystem::create_directories(dir);
    if (::geteuid() != 0) {
      reason = "not root: cannot mount a tmpfs";
      return;
    }
    std::string cmd = "mount -t tmpfs -o " + options + " tmpfs '" + dir + "' 2>&1";
    if (std::system(cmd.c_str()) != 0) reason = "mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)";
  }
  ~TmpfsMount() {
    if (reason.empty()) std::system(("umount '" + dir_ + "'").c_str());
  }
  std::string reason;
  std::string dir_;
};
}  // namespace

TEST_CASE("cli: absurd --workers and --threads get a range error, not a crash", "[cli][faults]") {
  for (const char* flag : {"--workers", "--threads"}) {
    auto r = run_cli(std::string("train --epochs 1 ") + flag + " 2147483647");
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(has(r.output, std::string("(") + flag + ") must be in [0, 1024], got 2147483647"));
  }
}

TEST_CASE("cli: resuming with other model, quantizer or schedule settings is refused naming both", "[cli][faults]") {
  TempDir tmp("faults_resume");
  std::string out = tmp.file("run");
  auto t = run_cli("train --epochs 1 --quant apot --weight-bits 4 --out " + out + kQuick);
  INFO(t.output);
  REQUIRE(t.exit_code == 0);
  const std::string resume = "train --epochs 2 --resume " + out + "/last.safetensors ";
  const std::pair<const char*, const char*> cases[] = {
      {"--weight-bits 3", "weight_bits 4 but this run asks for 3 (--weight-bits)"},
      {"--quant deepshift-q", "quant \"apot\" but this run asks for \"deepshift-q\" (--quant)"},
      {"--act-bits 3", "(--act-bits)"},
      {"--first-last fp32", "(--first-last)"},
      {"--lr-schedule cosine", "lr_schedule \"none\" but this run asks for \"cosine\" (--lr-schedule)"},
      {"--arch mnist-fc", "arch \"mnist-conv\" but this run asks for \"mnist-fc\" (--arch)"},
  };
  for (const auto& [flags, message] : cases) {
    auto r = run_cli(resume + flags);
    INFO(flags << "\n" << r.output);
    CHECK(r.exit_code == 1);
    CHECK(has(r.output, "--resume " + out + "/last.safetensors: the run was trained with "));
    CHECK(has(r.output, message));
  }
  // Repeating the stored value is fine; so is changing what a resume may change.
  auto ok = run_cli(resume + "--weight-bits 4 --quant apot --lr 0.05" + kQuick);
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
}

TEST_CASE("cli: a kill between the metrics row and the checkpoint does not duplicate the row", "[cli][faults]") {
  TempDir tmp("faults_metrics");
  std::string out = tmp.file("run");
  REQUIRE(run_cli("train --epochs 1 --out " + out + kQuick).exit_code == 0);
  // As if killed after appending epoch 1's row but before renaming its checkpoint.
  { std::ofstream(out + "/metrics.jsonl", std::ios::app) << "{\"epoch\":1,\"test_acc1\":1}\n{\"epo"; }
  auto r = run_cli("train --epochs 2 --resume " + out + "/last.safetensors");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(metric_epochs(out) == std::vector<int64_t>{0, 1});
}

TEST_CASE("cli: a run whose first epoch never finished starts over in its directory", "[cli][faults]") {
  TempDir tmp("faults_first");
  std::string out = tmp.file("run");
  // A first attempt that failed before any checkpoint: config.json and a stale temp file only.
  auto failed = run_cli("train --epochs 2 --lr-schedule exponential --lr-gamma 1e30 --lr 1e30 --out " + out + kQuick);
  REQUIRE(failed.exit_code != 0);
  REQUIRE(std::filesystem::exists(out + "/config.json"));
  REQUIRE(!std::filesystem::exists(out + "/last.safetensors"));
  CHECK(has(failed.output, "No epoch finished, so there is no checkpoint yet"));
  auto r = run_cli("train --epochs 1 --out " + out + kQuick);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(has(r.output, "holds a run that saved no checkpoint; starting it over"));
  CHECK(!has(r.output, "--resume"));
  CHECK(metric_epochs(out) == std::vector<int64_t>{0});
  // With a checkpoint, the hint to resume names a file that exists.
  auto again = run_cli("train --epochs 1 --out " + out + kQuick);
  CHECK(again.exit_code == 1);
  CHECK(has(again.output, "continue it with --resume " + out + "/last.safetensors"));
  CHECK(std::filesystem::exists(out + "/last.safetensors"));
}

TEST_CASE("cli: inspect of an APoT or uniform checkpoint with an inf weight is an error, not a crash", "[cli][faults]") {
  TempDir tmp("faults_inf");
  for (const char* q : {"apot", "uniform"}) {
    std::string out = tmp.file(q);
    REQUIRE(run_cli(std::string("train --epochs 1 --quant ") + q + " --out " + out + kQuick).exit_code == 0);
    SafetensorsContent c = load_safetensors(out + "/last.safetensors");
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (auto& [name, t] : c.tensors) {
      Tensor u = t;
      if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 && u.dtype() == DType::f32 && u.numel() > 0) {
        u = t.clone();
        u.data<float>()[0] = std::numeric_limits<float>::infinity();
      }
      tensors.emplace_back(name, u);
    }
    std::string bad = tmp.file(std::string(q) + "_inf.safetensors");
    save_safetensors(bad, tensors, c.metadata);
    auto r = run_cli("inspect " + bad);
    INFO(q << "\n" << r.output);
    CHECK(r.exit_code == 1);  // a segfault was 139
    CHECK(has(r.output, "shiftlab: error: " + bad));
  }
}

TEST_CASE("cli: a full disk ends the run with a clear error and keeps the saved checkpoint", "[cli][faults]") {
  TempDir tmp("faults_full");
  // One checkpoint's size, measured on a normal disk.
  std::string probe = tmp.file("probe");
  REQUIRE(run_cli("train --epochs 1 --out " + probe + kQuick).exit_code == 0);
  auto size = std::filesystem::file_size(probe + "/last.safetensors");
  // Room for last.safetensors but not for best.safetensors next to it.
  std::string disk = tmp.file("disk");
  TmpfsMount mount(disk, "size=" + std::to_string((size * 3 / 2) / 1024 + 8) + "k");
  if (!mount.reason.empty()) {
    WARN("skipped: " << mount.reason);
    return;
  }
  auto r = run_cli("train --epochs 1 --out " + disk + "/run" + kQuick);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(has(r.output, "No space left on device"));
  CHECK(load_safetensors(disk + "/run/last.safetensors").find("trainer.epoch") != nullptr);
  CHECK(!std::filesystem::exists(disk + "/run/best.safetensors"));  // no truncated file under its name
  CHECK(temp_files(disk + "/run") == 0);
}

TEST_CASE("cli: a read-only output directory is a clear error", "[cli][faults]") {
  TempDir tmp("faults_ro");
  std::string dir = tmp.file("ro");
  TmpfsMount mount(dir, "ro,size=64k");
  if (!mount.reason.empty()) {
    WARN("skipped: " << mount.reason);
    return;
  }
  for (const std::string& out : {dir, dir + "/run"}) {
    auto r = run_cli("train --epochs 1 --out " + out + kQuick);
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(has(r.output, "Read-only file system"));
    CHECK(has(r.output, out));
  }
}

TEST_CASE("cli: inspect and eval of a weights file without a stored config name the file", "[cli][faults]") {
  TempDir tmp("faults_noconfig");
  std::string path = tmp.file("bare.safetensors");
  save_safetensors(path, {{"fc.weight", from_vector<float>({1, 2}, {1, 2})}});
  for (const std::string& cmd : {"inspect " + path, "eval --weights " + path + " --test-subset 10"}) {
    auto r = run_cli(cmd);
    INFO(cmd << "\n" << r.output);
    CHECK(r.exit_code == 1);
    CHECK(has(r.output, "shiftlab: error: " + path));
    CHECK(!has(r.output, "unexpected error"));
  }
}
