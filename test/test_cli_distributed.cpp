// Data-parallel `shiftlab train` under mpirun (built with MPI only): 2 ranks x 32 images against
// 1 process x 64 on the same global batches, the synchronised batch norm, resume after a stop in the
// middle of an epoch, and the errors of a rank that disagrees or dies. docs/distributed.md explains
// the tolerances.
#ifdef SHIFTLAB_MPIRUN
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>

#include <signal.h>
#include <unistd.h>

#include "engine/safetensors.h"
#include "helpers.h"

using namespace sl;
using sl::test::run_command;
using sl::test::TempDir;

namespace {

// `timeout`: a hang (a rank waiting for a dead peer) fails the test instead of stalling CTest.
test::CliResult run_ranks(int ranks, const std::string& args) {
  return run_command(fmt::format("timeout 120 {} -np {} {} {}", SHIFTLAB_MPIRUN, ranks, SHIFTLAB_CLI, args));
}

std::vector<nlohmann::json> metrics(const std::string& dir) {
  std::ifstream in(dir + "/metrics.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Largest |a - b| / max(1, |b|) over every parameter and buffer the two checkpoints share.
double max_rel_diff(const SafetensorsContent& a, const SafetensorsContent& b, std::string& worst) {
  double m = 0;
  for (const auto& [name, t] : b.tensors) {
    if (name.rfind("optimizer.", 0) == 0 || name.rfind("trainer.", 0) == 0 || t.dtype() != DType::f32) continue;
    const Tensor* other = a.find(name);
    REQUIRE(other != nullptr);
    std::vector<float> x = other->to_vector<float>(), y = t.to_vector<float>();
    for (size_t i = 0; i < y.size(); ++i) {
      double d = std::abs(double(x[i]) - y[i]) / std::max(1.0, std::abs(double(y[i])));
      if (d > m) m = d, worst = name;
    }
  }
  return m;
}

// One process x batch 64 and 2 ranks x 32 on the same data: same metrics within `tol` (relative for
// losses, one test image for accuracies: an argmax can flip on a last-bit difference), parameters
// within `param_tol`. Returns both checkpoints.
std::pair<SafetensorsContent, SafetensorsContent> check_equivalent(const std::string& args, double tol,
                                                                   double param_tol, int subset = 640, size_t epochs = 2) {
  TempDir tmp("dp");
  std::string one = tmp.file("one"), two = tmp.file("two");
  const std::string common = " --subset " + std::to_string(subset) + " --test-subset 200 --batch-size 64 --test-batch-size 100 --epochs " + std::to_string(epochs) +
                             " --print-freq 1000 --no-stats --threads 1" + args;
  auto a = sl::test::run_cli("train --out " + one + common);
  INFO(a.output);
  REQUIRE(a.exit_code == 0);
  auto b = run_ranks(2, "train --out " + two + common);
  INFO(b.output);
  REQUIRE(b.exit_code == 0);
  CHECK(has(b.output, "data-parallel: MPI"));
  CHECK(has(b.output, "global batch 64 (32 per rank)"));
  auto ra = metrics(one), rb = metrics(two);
  REQUIRE(ra.size() == epochs);
  REQUIRE(rb.size() == epochs);
  for (size_t e = 0; e < epochs; ++e) {
    for (const char* key : {"train_loss", "test_loss"}) {
      double x = ra[e][key], y = rb[e][key];
      INFO("epoch " << e << " " << key << ": 1 process " << x << ", 2 ranks " << y);
      CHECK(std::abs(x - y) <= tol * std::max(1.0, std::abs(x)));
    }
    for (const char* key : {"train_acc1", "test_acc1", "test_acc5"}) {
      double x = ra[e][key], y = rb[e][key];
      INFO("epoch " << e << " " << key << ": 1 process " << x << ", 2 ranks " << y);
      CHECK(std::abs(x - y) <= 0.5 + 1e-9);  // one image of 200
    }
    CHECK(rb[e].contains("allreduce_ms_per_step"));
  }
  auto ca = load_safetensors(one + "/last.safetensors"), cb = load_safetensors(two + "/last.safetensors");
  std::string worst;
  double d = max_rel_diff(cb, ca, worst);
  INFO("largest parameter difference " << d << " in " << worst);
  CHECK(d <= param_tol);
  return {std::move(ca), std::move(cb)};
}

}  // namespace

TEST_CASE("distributed: 2 ranks x 32 train mnist-conv FP32 as 1 process x 64", "[cli][distributed]") {
  check_equivalent("", 1e-4, 1e-4);
}

TEST_CASE("distributed: 2 ranks x 32 train DeepShift-PS as 1 process x 64, with the same levels",
          "[cli][distributed]") {
  auto [one, two] = check_equivalent(" --quant deepshift-ps", 1e-4, 1e-3);
  int64_t compared = 0;
  for (const auto& [name, t] : one.tensors) {
    bool shift = name.size() > 6 && name.compare(name.size() - 6, 6, ".shift") == 0;
    bool sign = name.size() > 5 && name.compare(name.size() - 5, 5, ".sign") == 0;
    if (!shift && !sign) continue;
    std::vector<float> x = t.to_vector<float>(), y = sl::test::tensor_of(two, name).to_vector<float>();
    int64_t differ = 0;
    for (size_t i = 0; i < x.size(); ++i) differ += std::nearbyint(x[i]) != std::nearbyint(y[i]);
    INFO(name << ": " << differ << " of " << x.size() << " rounded latents differ");
    CHECK(differ == 0);
    ++compared;
  }
  CHECK(compared >= 4);
}

// resnet20 at lr 0.05 is chaotic in its first steps (a last-bit difference grows ~10x per step), so
// two steps: losses agree to ~1e-7 and parameters to ~4e-5 (docs/distributed.md).
TEST_CASE("distributed: the all-reduce overlapped with backward trains the same model bit for bit",
          "[cli][distributed]") {
  // DeepShift-PS (latents and signs as parameters) in 0.25 MB buckets: mnist-conv's ~430K
  // parameters in several, launched from the last while backward goes on.
  TempDir tmp("dp_overlap");
  const std::string common = " --quant deepshift-ps --weight-bits 5 --optimizer radam --subset 320 --test-subset 100"
                             " --batch-size 64 --epochs 1 --print-freq 1000 --no-stats --threads 1";
  auto run = [&](const std::string& mode) {
    const std::string dir = tmp.file(mode);
    auto r = run_command(fmt::format("timeout 120 {} -x SHIFTLAB_ALLREDUCE_OVERLAP={} -x SHIFTLAB_ALLREDUCE_BUCKET_MB=0.25 "
                                     "-np 2 {} train --out {}{}",
                                     SHIFTLAB_MPIRUN, mode, SHIFTLAB_CLI, dir, common));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(has(r.output, mode == "on" ? "gradients summed on the host, overlapped with the backward pass"
                                     : "gradients summed on the host\n"));
    return load_safetensors(dir + "/last.safetensors");
  };
  SafetensorsContent on = run("on"), off = run("off");
  for (const auto& [name, t] : off.tensors) {
    if (name.rfind("trainer.", 0) == 0) continue;  // wall-clock fields
    const Tensor* other = on.find(name);
    REQUIRE(other != nullptr);
    INFO(name);
    CHECK(other->nbytes() == t.nbytes());
    CHECK(std::memcmp(other->raw_data(), t.raw_data(), t.nbytes()) == 0);
  }
  // A value the switch does not know is one clear error.
  auto bad = run_command(fmt::format("timeout 120 {} -x SHIFTLAB_ALLREDUCE_OVERLAP=maybe -np 2 {} train --out {}{}",
                                     SHIFTLAB_MPIRUN, SHIFTLAB_CLI, tmp.file("bad"), common));
  CHECK(bad.exit_code != 0);
  CHECK(has(bad.output, "SHIFTLAB_ALLREDUCE_OVERLAP is 'maybe': use auto, on or off"));
}

TEST_CASE("distributed: resnet20 with --sync-bn trains as 1 process on the global batch", "[cli][distributed]") {
  check_equivalent(" --arch resnet20 --lr 0.05 --sync-bn", 1e-5, 1e-4, 128, 1);
}

TEST_CASE("distributed: a 2-rank run stopped mid-epoch resumes exactly", "[cli][distributed]") {
  TempDir tmp("dp_resume");
  std::string full = tmp.file("full"), part = tmp.file("part");
  // mnist-fc has dropout: every rank's saved generator matters.
  const std::string args = " --arch mnist-fc --optimizer radam --lr 0.002 --seed 3 --subset 3200 --test-subset 200 "
                           "--batch-size 32 --test-batch-size 100 --epochs 1 --no-stats --threads 1";
  REQUIRE(run_ranks(2, "train --print-freq 1000 --out " + full + args).exit_code == 0);
  // Each rank's shell prints its pid; Ctrl-C goes to rank 1 alone once training has started: every
  // rank stops at the same step and rank 0 saves.
  std::string cmd = fmt::format(
      "timeout 120 {} -np 2 sh -c 'echo \"pid $$ rank $OMPI_COMM_WORLD_RANK\"; exec {} train --print-freq 5 --out {}{}' "
      "2>&1", SHIFTLAB_MPIRUN, SHIFTLAB_CLI, part, args);
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  // Read as it comes: under mpirun the ranks' stdout is a terminal, so the progress bar redraws
  // one line with carriage returns.
  char chunk[4096];
  std::string text;
  pid_t rank1 = 0;
  bool sent = false;
  for (ssize_t got; (got = ::read(fileno(p), chunk, sizeof chunk)) > 0;) {
    text.append(chunk, static_cast<size_t>(got));
    size_t at = text.find("rank 1\n");
    if (rank1 == 0 && at != std::string::npos) {
      size_t start = text.rfind("pid ", at);
      rank1 = static_cast<pid_t>(std::stol(text.substr(start + 4, at - start - 4)));
    }
    if (!sent && rank1 > 0 && has(text, "Epoch: [0]")) {
      ::kill(rank1, SIGINT);
      sent = true;
    }
  }
  pclose(p);
  INFO(text);
  REQUIRE(sent);
  REQUIRE(has(text, "Interrupted at epoch 0"));
  SafetensorsContent ck = load_safetensors(part + "/last.safetensors");
  CHECK(sl::test::tensor_of(ck, "trainer.batch").item() > 0);
  CHECK(sl::test::tensor_of(ck, "trainer.batch").item() < 100);
  REQUIRE(ck.find("trainer.rank_rng_offsets") != nullptr);
  CHECK(sl::test::tensor_of(ck, "trainer.rank_rng_offsets").numel() == 2);

  // Another rank count is refused, naming the one the checkpoint needs.
  auto wrong = sl::test::run_cli("train --resume " + part + "/last.safetensors");
  CHECK(wrong.exit_code != 0);
  CHECK(has(wrong.output, "written by a run of 2 ranks; resume it with the same count (mpirun -np 2)"));

  auto r = run_ranks(2, "train --print-freq 1000 --resume " + part + "/last.safetensors --out " + part);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto a = metrics(full), b = metrics(part);
  REQUIRE(a.size() == 1);
  REQUIRE(b.size() == 1);
  for (const char* key : {"train_loss", "train_acc1", "test_loss", "test_acc1", "test_acc5"}) {
    INFO(key);
    CHECK(a[0][key] == b[0][key]);
  }
  std::string worst;
  CHECK(max_rel_diff(load_safetensors(part + "/last.safetensors"), load_safetensors(full + "/last.safetensors"),
                     worst) == 0);
}

TEST_CASE("distributed: ranks with different flags stop with one clear error and no run", "[cli][distributed]") {
  TempDir tmp("dp_config");
  std::string out = tmp.file("run");
  auto r = run_command(fmt::format("timeout 120 {} -np 2 sh -c 'exec {} train --subset 128 --test-subset 100 --epochs 1 "
                                   "--out {} --lr 0.0${{OMPI_COMM_WORLD_RANK}}1'",
                                   SHIFTLAB_MPIRUN, SHIFTLAB_CLI, out));
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != 124);  // not the timeout: no rank was left waiting
  CHECK(has(r.output, "error (rank 1 of 2): rank 1 was started with another run config than rank 0: lr (0.011 here, "
                      "0.001 on rank 0)"));
  CHECK_FALSE(std::filesystem::exists(out + "/last.safetensors"));
}

TEST_CASE("distributed: a rank that dies ends the run without a damaged checkpoint", "[cli][distributed]") {
  TempDir tmp("dp_kill");
  std::string out = tmp.file("run");
  // Rank 1 kills itself once training is under way (its shell waits, then sends SIGKILL).
  auto r = run_command(fmt::format(
      "timeout 120 {} -np 2 sh -c 'if [ $OMPI_COMM_WORLD_RANK = 1 ]; then (sleep 4; kill -9 $$) & fi; exec {} train "
      "--subset 6400 --test-subset 100 --epochs 50 --no-stats --threads 1 --out {}'",
      SHIFTLAB_MPIRUN, SHIFTLAB_CLI, out));
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != 124);
  CHECK(has(r.output, "signal 9"));
  if (std::filesystem::exists(out + "/last.safetensors"))  // a finished epoch's checkpoint, complete
    CHECK_NOTHROW(load_safetensors(out + "/last.safetensors"));
}
#endif  // SHIFTLAB_MPIRUN
