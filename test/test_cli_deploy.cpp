// The deploy commands as a user runs them: train, export (sizes, per-layer codes), eval --deploy
// (the float eval's output format, accuracy close to it), bench infer (torch_ref.py ids) and errors.
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "data/image.h"
#include "data/registry.h"
#include "deploy/runtime.h"
#include "helpers.h"

using namespace sl;

namespace {
const std::string kEvalQuick = " --test-subset 500 --test-batch-size 250 --print-freq 1000";
const std::string kQuick = " --subset 2000 --batch-size 50" + kEvalQuick;
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
  test::CliResult f = test::run_cli("eval --weights " + run + "/last.safetensors" + kEvalQuick);
  test::CliResult d = test::run_cli("eval --deploy " + model + kEvalQuick);
  INFO(f.output << d.output);
  REQUIRE(f.exit_code == 0);
  REQUIRE(d.exit_code == 0);
  CHECK(has(d.output, "integer kernels"));
  // 500 test images: one image is 0.2 points.
  CHECK(std::abs(acc1(d.output) - acc1(f.output)) <= 1.0);

  // infer on image files: a test image as PNG (lossless, so the same input as the dataset's tensor)
  // and the same image as a 56x56 RGB file (converted and resized to the model's input).
  data::LoadedDataset test_set = data::make_dataset("fashion-mnist", "", false);
  const data::Sample sample = test_set.dataset->get(0);
  const std::string png = dir / "shirt.png", rgb = dir / "shirt_rgb.png";
  data::write_image(png, sample.image);
  data::Image big(56, 56, 3);
  for (int y = 0; y < 56; ++y)
    for (int x = 0; x < 56; ++x)
      for (int ch = 0; ch < 3; ++ch) big.ptr(y, x)[ch] = sample.image.ptr(y / 2, x / 2)[0];
  data::write_image(rgb, big);
  std::vector<float> tensor(28 * 28);
  data::SampleRng rng(0, 0, 0);
  test_set.transform.to_tensor(test_set.transform.augment(sample.image, rng), tensor.data());
  const std::vector<float> logits = deploy::InferenceModel::load(model).run(tensor.data(), 1);
  const auto want = std::max_element(logits.begin(), logits.end()) - logits.begin();
  test::CliResult inf = test::run_cli("infer " + model + " " + png + " " + rgb + " --top 3");
  INFO(inf.output);
  REQUIRE(inf.exit_code == 0);
  CHECK(has(inf.output, png + ": class " + std::to_string(want) + " ("));
  CHECK(has(inf.output, rgb + ": class "));
  test::CliResult bad_image = test::run_cli("infer " + model + " " + dir / "nope.png");
  CHECK(bad_image.exit_code != 0);
  CHECK(has(bad_image.output, "nope.png"));

  // The embedding example of docs/deploy.md, linked against the runtime library alone.
  test::CliResult example = test::run_command(std::string(SHIFTLAB_DEPLOY_EXAMPLE) + " " + model);
  INFO(example.output);
  CHECK(example.exit_code == 0);
  CHECK(has(example.output, "image 3: class "));

  test::CliResult missing = test::run_cli("eval --deploy " + dir / "nope.safetensors");
  CHECK(missing.exit_code != 0);
  CHECK(has(missing.output, "nope.safetensors"));
  test::CliResult not_deploy = test::run_cli("eval --deploy " + run + "/last.safetensors" + kEvalQuick);
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

TEST_CASE("bench infer times the deploy runtime's Winograd modes under ids of their own", "[cli][deploy][bench]") {
  test::TempDir dir("bench_infer_winograd");
  const std::string json = dir / "infer.json";
  test::CliResult r = test::run_cli("bench infer -a resnet20 -b 1 --threads 1 --budget 0.05 --no-fp32 --winograd on all off --json " +
                                    json);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(has(r.output, "(direct 3x3 convs)"));
  std::ifstream in(json);
  nlohmann::json doc = nlohmann::json::parse(in);
  std::vector<std::string> ids;
  for (const auto& row : doc["results"]) ids.push_back(row["id"].get<std::string>());
  // torch_ref.py's ids (and their -jit / -int8 aliases) are the default mode's; the others' are not.
  for (const char* id : {"resnet20-infer-b1", "resnet20-infer-b1-int8", "resnet20-infer-b1-winograd-all",
                         "resnet20-infer-b1-direct"})
    CHECK(std::find(ids.begin(), ids.end(), id) != ids.end());
  CHECK(std::find(ids.begin(), ids.end(), "resnet20-infer-b1-direct-int8") == ids.end());
  test::CliResult bad = test::run_cli("bench infer -a resnet20 -b 1 --winograd maybe");
  CHECK(bad.exit_code != 0);
  CHECK(has(bad.output, "maybe"));
}
