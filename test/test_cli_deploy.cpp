// The deploy commands as a user runs them: train, export (sizes, per-layer codes), eval --deploy
// (the float eval's output format, accuracy close to it), bench infer (torch_ref.py ids) and errors.
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "helpers.h"

using namespace sl;

namespace {
const std::string kQuick = " --subset 2000 --test-subset 500 --batch-size 50 --test-batch-size 250 --print-freq 1000";
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

double acc1(const std::string& output) {
  std::smatch m;
  REQUIRE(std::regex_search(output, m, std::regex(R"( \* Acc@1 ([0-9.]+))")));
  return std::stod(m[1]);
}
}  // namespace

TEST_CASE("export then eval --deploy scores like the float eval of the same checkpoint", "[cli][deploy]") {
  test::TempDir dir("cli_deploy");
  const std::string run = dir / "ps";
  test::CliResult t = test::run_cli("train --epochs 1 --quant deepshift-ps --optimizer radam --lr 0.01 --out " + run + kQuick);
  INFO(t.output);
  REQUIRE(t.exit_code == 0);
  const std::string model = dir / "ps.deploy.safetensors";
  test::CliResult e = test::run_cli("export --weights " + run + "/last.safetensors --calibration-images 256 -o " + model);
  INFO(e.output);
  REQUIRE(e.exit_code == 0);
  CHECK(has(e.output, "deepshift-ps 5-bit"));
  CHECK(has(e.output, "of the FP32 weights"));
  test::CliResult f = test::run_cli("eval --weights " + run + "/last.safetensors" + kQuick);
  test::CliResult d = test::run_cli("eval --deploy " + model + kQuick);
  INFO(f.output << d.output);
  REQUIRE(f.exit_code == 0);
  REQUIRE(d.exit_code == 0);
  CHECK(has(d.output, "integer kernels"));
  // 500 test images: one image is 0.2 points.
  CHECK(std::abs(acc1(d.output) - acc1(f.output)) <= 1.0);

  test::CliResult missing = test::run_cli("eval --deploy " + dir / "nope.safetensors");
  CHECK(missing.exit_code != 0);
  CHECK(has(missing.output, "nope.safetensors"));
  test::CliResult not_deploy = test::run_cli("eval --deploy " + run + "/last.safetensors" + kQuick);
  CHECK(not_deploy.exit_code != 0);
  CHECK(has(not_deploy.output, "not a shiftlab deploy model"));
}

TEST_CASE("bench infer emits torch_ref.py's ids for the deploy runtime and the FP32 eval", "[cli][deploy][bench]") {
  test::TempDir dir("bench_infer");
  const std::string json = dir / "infer.json";
  test::CliResult r = test::run_cli("bench infer -a mnist-conv -b 1 2 --threads 1 --budget 0.05 --json " + json);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(json);
  nlohmann::json doc = nlohmann::json::parse(in);
  std::vector<std::string> ids;
  for (const auto& row : doc["results"]) ids.push_back(row["id"].get<std::string>());
  for (const char* id : {"mnist-conv-infer-b1", "mnist-conv-infer-b1-jit", "mnist-conv-infer-b1-int8",
                         "mnist-conv-infer-b1-shiftlab-fp32", "mnist-conv-infer-b2"})
    CHECK(std::find(ids.begin(), ids.end(), id) != ids.end());
  CHECK(doc["results"][0]["ms_median"].get<double>() > 0);
  CHECK(doc["results"][1]["same_as"].get<std::string>() == "mnist-conv-infer-b1");
}
