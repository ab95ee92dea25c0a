// `shiftlab train` writes stats.jsonl (one row per epoch and weight layer) unless --no-stats, and
// recording it does not change the run: with stochastic rounding, whose effective weight draws
// random numbers, the metrics with and without statistics are identical.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "helpers.h"

using sl::test::run_cli;
using sl::test::TempDir;

namespace {

std::vector<nlohmann::json> rows(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("train: stats.jsonl per epoch and layer, and --no-stats trains the same run", "[cli][stats]") {
  TempDir tmp("cli_stats");
  const std::string args =
      " --epochs 2 --subset 600 --test-subset 200 --batch-size 50 --test-batch-size 200 --print-freq 1000"
      " --quant deepshift-ps --weight-bits 4 --rounding stochastic --optimizer radam";
  auto with = run_cli("train --out " + tmp.file("with") + args);
  INFO(with.output);
  REQUIRE(with.exit_code == 0);
  CHECK(with.output.find("| stats ") != std::string::npos);
  auto without = run_cli("train --no-stats --out " + tmp.file("without") + args);
  INFO(without.output);
  REQUIRE(without.exit_code == 0);

  auto stats = rows(tmp.file("with") + "/stats.jsonl");
  REQUIRE(stats.size() == 8);  // 2 epochs x mnist-conv's conv1, conv2, fc1, fc2
  CHECK(stats[0]["layer"] == "conv1");
  CHECK(stats[7]["epoch"] == 1);
  CHECK(stats[7]["layer"] == "fc2");
  CHECK(stats[7]["method"] == "deepshift-ps");
  CHECK(!std::filesystem::exists(tmp.file("without") + "/stats.jsonl"));

  auto a = rows(tmp.file("with") + "/metrics.jsonl"), b = rows(tmp.file("without") + "/metrics.jsonl");
  REQUIRE(a.size() == 2);
  REQUIRE(b.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(a[i].contains("stats_seconds"));
    CHECK(!b[i].contains("stats_seconds"));
    for (const char* key : {"train_loss", "train_acc1", "test_loss", "test_acc1"}) {
      INFO("epoch " << i << " " << key);
      CHECK(a[i][key] == b[i][key]);
    }
  }
}
