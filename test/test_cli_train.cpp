// `shiftlab train` / `eval` run as real processes on Fashion-MNIST subsets: the run directory,
// an accuracy floor, resume = uninterrupted, eval = training's evaluation, Ctrl-C, the NaN guard,
// and one clear error (with no saved file damaged) for each kind of bad input.
#include <nlohmann/json.hpp>

#include <fstream>

#include <signal.h>
#include <sys/types.h>

#include "engine/file_io.h"
#include "engine/safetensors.h"
#include "helpers.h"

using namespace sl;
using sl::test::run_cli;
using sl::test::TempDir;

namespace {

// A quick run: 1500 training images, 500 test images, batch 50.
const std::string kQuick = " --subset 1500 --test-subset 500 --batch-size 50 --test-batch-size 250 --print-freq 1000";

std::vector<nlohmann::json> metrics(const std::string& dir) {
  std::ifstream in(dir + "/metrics.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

std::string slurp(const std::string& path) {
  std::vector<char> b = read_file(path);
  return std::string(b.begin(), b.end());
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("train: a short Fashion-MNIST run writes the run directory and learns", "[cli][train]") {
  TempDir tmp("train");
  std::string out = tmp.file("run");
  auto r = run_cli("train --epochs 2 --out " + out + kQuick);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  for (const char* f : {"config.json", "metrics.jsonl", "last.safetensors", "best.safetensors"})
    CHECK(std::filesystem::exists(out + "/" + f));
  auto rows = metrics(out);
  REQUIRE(rows.size() == 2);
  for (const char* key : {"epoch", "lr", "train_loss", "train_acc1", "test_loss", "test_acc1", "test_acc5", "seconds",
                          "images_per_s"})
    CHECK(rows[1].contains(key));
  // Chance is 10%; 30 SGD steps on 1500 images already reach ~65-75% with mnist-conv, so 55% is a
  // floor that only a broken pipeline (labels, normalisation, gradients) misses.
  CHECK(rows[1]["test_acc1"].get<double>() > 55.0);
  CHECK(has(r.output, "Epoch: [1][30/30]"));
  CHECK(has(r.output, " * Acc@1 "));
  auto config = nlohmann::json::parse(slurp(out + "/config.json"));
  CHECK(config["epochs"] == 2);
  CHECK(config["arch"] == "mnist-conv");
  SafetensorsContent ck = load_safetensors(out + "/last.safetensors");
  CHECK(ck.find("conv1.weight") != nullptr);
  CHECK(ck.find("optimizer.step") != nullptr);
  CHECK(sl::test::tensor_of(ck, "trainer.epoch").item() == 2);
  CHECK(nlohmann::json::parse(ck.metadata.at("config"))["subset"] == 1500);

  // eval on the best checkpoint reproduces the best epoch's test accuracy exactly.
  double best = std::max(rows[0]["test_acc1"].get<double>(), rows[1]["test_acc1"].get<double>());
  auto e = run_cli("eval --weights " + out + "/best.safetensors");
  INFO(e.output);
  REQUIRE(e.exit_code == 0);
  CHECK(has(e.output, fmt::format(" * Acc@1 {:.3f}", best)));
}

TEST_CASE("train: --resume after epoch 1 gives the same metrics as the uninterrupted run", "[cli][train]") {
  TempDir tmp("resume");
  std::string full = tmp.file("full"), part = tmp.file("part");
  // mnist-fc has dropout, so the saved RNG state matters too.
  std::string args = " --arch mnist-fc --optimizer radam --lr 0.002 --seed 7" + kQuick;
  REQUIRE(run_cli("train --epochs 3 --out " + full + args).exit_code == 0);
  REQUIRE(run_cli("train --epochs 1 --out " + part + args).exit_code == 0);
  auto r = run_cli("train --epochs 3 --resume " + part + "/last.safetensors --out " + part);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto a = metrics(full), b = metrics(part);
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 3);
  for (size_t i = 0; i < 3; ++i)
    for (const char* key : {"lr", "train_loss", "train_acc1", "test_loss", "test_acc1", "test_acc5"}) {
      INFO("epoch " << i << " " << key);
      CHECK(a[i][key] == b[i][key]);
    }
}

TEST_CASE("train: Ctrl-C saves a resumable checkpoint mid-epoch", "[cli][train]") {
  TempDir tmp("sigint");
  std::string out = tmp.file("run");
  // The shell prints its pid, then becomes shiftlab; SIGINT goes out once the first progress line
  // shows that training has started (a full Fashion-MNIST epoch takes ~10 s, so it lands mid-epoch).
  std::string cmd = "sh -c 'echo $$; exec " + std::string(SHIFTLAB_CLI) +
                    " train --epochs 2 --print-freq 100000 --out " + out + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  char line[4096];
  REQUIRE(fgets(line, sizeof line, p) != nullptr);
  pid_t pid = static_cast<pid_t>(std::stol(line));
  std::string text;
  bool sent = false;
  while (fgets(line, sizeof line, p) != nullptr) {
    text += line;
    if (!sent && has(text, "Epoch: [0][")) {
      ::kill(pid, SIGINT);
      sent = true;
    }
  }
  int status = pclose(p);
  INFO(text);
  REQUIRE(sent);
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(has(text, "Interrupted at epoch 0"));
  SafetensorsContent ck = load_safetensors(out + "/last.safetensors");
  CHECK(sl::test::tensor_of(ck, "trainer.epoch").item() == 0);
  CHECK(sl::test::tensor_of(ck, "trainer.batch").item() > 0);
  // The run continues from there.
  auto r = run_cli("train --epochs 1 --resume " + out + "/last.safetensors --print-freq 100000");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(metrics(out).size() == 1);
}

TEST_CASE("train: a diverging loss stops the run with epoch and step, keeping the last checkpoint", "[cli][train]") {
  TempDir tmp("nan");
  std::string out = tmp.file("run");
  // Epoch 0 trains at lr 0.01; the exponential schedule makes epoch 1's lr 1e10, which diverges.
  auto r = run_cli("train --epochs 3 --lr-schedule exponential --lr-gamma 1e12 --out " + out + kQuick);
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(has(r.output, "the training loss became"));
  CHECK(has(r.output, "at epoch 1, step"));
  SafetensorsContent ck = load_safetensors(out + "/last.safetensors");  // epoch 0's, intact
  CHECK(sl::test::tensor_of(ck, "trainer.epoch").item() == 1);
  for (double v : sl::test::tensor_of(ck, "fc2.weight").to_vector<double>()) CHECK(std::isfinite(v));
  CHECK(metrics(out).size() == 1);
}

TEST_CASE("train/eval: bad input gives one clear error and leaves saved files intact", "[cli][train][errors]") {
  TempDir tmp("bad");
  std::string out = tmp.file("run");
  REQUIRE(run_cli("train --epochs 1 --out " + out + kQuick).exit_code == 0);
  std::string ckpt = out + "/last.safetensors";
  std::string good = slurp(ckpt), config = slurp(out + "/config.json"), metric = slurp(out + "/metrics.jsonl");
  auto expect_error = [&](const std::string& args, const std::string& message) {
    auto r = run_cli(args);
    INFO(args << "\n" << r.output);
    CHECK(r.exit_code != 0);
    CHECK(has(r.output, message));
  };
  expect_error("train --no-such-flag", "--no-such-flag");
  expect_error("train --arch resnet999", "resnet999");
  expect_error("train --batch-size 0", "batch_size (--batch-size) must be >= 1");
  expect_error("train --optimizer sgdd", "optimizer (--optimizer) 'sgdd' is not one of");
  expect_error("train --momentum 1.5", "momentum (--momentum) must be in [0, 1)");
  write_file_atomic(tmp.file("bad.json"), R"({"epochs": 1, "learning_rate": 0.1})");
  expect_error("train --config " + tmp.file("bad.json"), "unknown key 'learning_rate'");
  write_file_atomic(tmp.file("type.json"), R"({"epochs": "ten"})");
  expect_error("train --config " + tmp.file("type.json"), "key 'epochs' must be an integer");
  expect_error("eval --weights " + tmp.file("missing.safetensors"), "cannot open");
  // The same run directory is not overwritten by a new run.
  expect_error("train --epochs 1 --out " + out, "already holds a run");

  auto corrupt = [&](const std::string& name, const std::string& bytes, const std::string& message) {
    std::string path = tmp.file(name);
    write_file_atomic(path, bytes);
    expect_error("eval --weights " + path, message);
  };
  corrupt("truncated.safetensors", good.substr(0, good.size() / 2), "truncated");
  std::string big = good;
  big[6] = '\x7f';  // header length now far beyond the file
  corrupt("header.safetensors", big, "exceeds the 100 MB limit");
  std::string json = good;
  json[8] = 'x';  // the header no longer starts with '{'
  corrupt("json.safetensors", json, "does not start with");

  // A checkpoint whose tensors do not fit the model: another architecture, a missing tensor.
  SafetensorsContent c = load_safetensors(ckpt);
  std::vector<std::pair<std::string, Tensor>> fewer;
  for (auto& kv : c.tensors)
    if (kv.first != "fc2.bias") fewer.push_back(kv);
  save_safetensors(tmp.file("missing_tensor.safetensors"), fewer, c.metadata);
  expect_error("eval --weights " + tmp.file("missing_tensor.safetensors"),
               "the tensors do not fit the model: missing keys (1): fc2.bias");
  expect_error("eval --arch mnist-fc --weights " + ckpt, "holds a mnist-conv model, not mnist-fc (--arch)");
  std::vector<std::pair<std::string, Tensor>> reshaped;
  for (auto& kv : c.tensors) reshaped.emplace_back(kv.first, kv.first == "fc2.bias" ? zeros({11}) : kv.second);
  save_safetensors(tmp.file("shape.safetensors"), reshaped, c.metadata);
  expect_error("eval --weights " + tmp.file("shape.safetensors"),
               "the tensors do not fit the model: shape mismatches (1): fc2.bias (file [11], model [10])");

  CHECK(slurp(ckpt) == good);
  CHECK(slurp(out + "/config.json") == config);
  CHECK(slurp(out + "/metrics.jsonl") == metric);
}

TEST_CASE("train: --config keys, overridden by the flags given, and -e evaluates a checkpoint", "[cli][train]") {
  TempDir tmp("config");
  std::string out = tmp.file("run");
  write_file_atomic(tmp.file("run.json"), R"({"epochs": 1, "lr": 0.05, "subset": 600, "test_subset": 200, "momentum": 0.5})");
  auto r = run_cli("train --config " + tmp.file("run.json") + " --lr 0.02 --out " + out + " --print-freq 1000");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto config = nlohmann::json::parse(slurp(out + "/config.json"));
  CHECK(config["lr"] == 0.02);        // the flag wins
  CHECK(config["momentum"] == 0.5);   // from the file
  CHECK(config["subset"] == 600);
  CHECK(metrics(out).size() == 1);
  auto e = run_cli("train -e --weights " + out + "/last.safetensors --test-subset 200");
  INFO(e.output);
  CHECK(e.exit_code == 0);
  CHECK(has(e.output, fmt::format(" * Acc@1 {:.3f}", metrics(out)[0]["test_acc1"].get<double>())));
}

TEST_CASE("train: --winograd off trains with the direct 3x3 convs, on is the default", "[cli][train][winograd]") {
  TempDir tmp("winograd");
  // resnet20's body is 3x3 stride-1 convs of 16+ channels, which Winograd takes by default. Two steps
  // move the weights by amounts that carry either path's rounding.
  const std::string args =
      " -a resnet20 --subset 100 --test-subset 50 --batch-size 50 --test-batch-size 50 --epochs 1 --threads 1"
      " --print-freq 1000 --no-stats --out ";
  for (const std::string run : {"default", "on", "off", "off2"}) {
    const std::string flag = run == "default" ? "" : run == "on" ? " --winograd on" : " --winograd off";
    auto r = run_cli("train" + flag + args + tmp.file(run));
    INFO(run << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
  }
  // Every tensor's values, in the file's order (the metadata names the run directory, which differs).
  auto weights = [&](const std::string& run) {
    std::vector<std::vector<float>> all;
    for (const auto& kv : load_safetensors(tmp.file(run) + "/last.safetensors").tensors)
      if (kv.second.dtype() == DType::f32) all.push_back(kv.second.to_vector<float>());
    return all;
  };
  CHECK(nlohmann::json::parse(slurp(tmp.file("default") + "/config.json"))["winograd"] == "on");
  CHECK(nlohmann::json::parse(slurp(tmp.file("off") + "/config.json"))["winograd"] == "off");
  CHECK(weights("default") == weights("on"));
  CHECK(weights("off") == weights("off2"));   // the direct path is as deterministic
  CHECK(weights("off") != weights("on"));     // and it is another path: its rounding differs
  // eval takes the switch too (the checkpoint's setting unless the flag is given).
  auto e = run_cli("eval --winograd off --weights " + tmp.file("off") + "/last.safetensors");
  INFO(e.output);
  CHECK(e.exit_code == 0);
  auto bad = run_cli("train --winograd maybe --epochs 0 --out " + tmp.file("bad"));
  CHECK(bad.exit_code != 0);
  CHECK(has(bad.output, "winograd (--winograd) 'maybe' is not one of"));
}
