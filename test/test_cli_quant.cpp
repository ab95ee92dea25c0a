// The quantization flags of `shiftlab train`, and `convert` / `inspect`, run as real processes.
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "helpers.h"
#include "quant/families.h"

using namespace sl;
using sl::test::run_cli;
using sl::test::TempDir;

namespace {
const std::string kQuick = " --subset 600 --test-subset 200 --batch-size 50 --test-batch-size 200 --print-freq 1000";
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("train --quant: every family trains a step on Fashion-MNIST and inspect shows its levels", "[cli][quant]") {
  TempDir tmp("quant");
  for (const QuantFamily& family : quant_families()) {
    const std::string q = family.name;
    INFO(q);
    std::string out = tmp.file(q), init = tmp.file(q + "-init");
    auto r = run_cli("train --epochs 1 --quant " + q + " --out " + out + kQuick);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(has(r.output, "quantization: " + q));
    // The steps changed the trained tensors (against the same run's initial checkpoint) and the
    // epoch's loss is finite.
    REQUIRE(run_cli("train --epochs 0 --quant " + q + " --out " + init + kQuick).exit_code == 0);
    SafetensorsContent before = load_safetensors(init + "/last.safetensors"), after = load_safetensors(out + "/last.safetensors");
    int64_t changed = 0;
    for (const char* name : {"conv2.weight", "conv2.shift", "conv2.sign", "fc1.weight", "fc1.shift"}) {
      if (!before.find(name)) continue;
      changed += sl::test::tensor_of(before, name).to_vector<float>() != sl::test::tensor_of(after, name).to_vector<float>();
    }
    CHECK(changed > 0);
    std::ifstream metrics(out + "/metrics.jsonl");
    std::string line;
    REQUIRE(std::getline(metrics, line));
    double loss = nlohmann::json::parse(line).at("train_loss").get<double>();
    CHECK(std::isfinite(loss));
    CHECK(loss > 0);
    auto i = run_cli("inspect " + out + "/last.safetensors");
    INFO(i.output);
    REQUIRE(i.exit_code == 0);
    CHECK(has(i.output, std::string("fc1 (") + q));
    CHECK(has(i.output, "levels used"));
  }
  auto apot = run_cli("inspect " + tmp.file("apot") + "/last.safetensors");
  CHECK(has(apot.output, "clipping threshold weight alpha: "));
}

TEST_CASE("convert: an FP32 checkpoint becomes a DeepShift-PS model, APoT converts to fewer bits", "[cli][quant]") {
  TempDir tmp("convert");
  std::string fp32 = tmp.file("fp32"), ps = tmp.file("ps.safetensors");
  REQUIRE(run_cli("train --epochs 1 --out " + fp32 + kQuick).exit_code == 0);
  auto r = run_cli("convert --weights " + fp32 + "/last.safetensors --quant deepshift-ps -o " + ps);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  SafetensorsContent c = load_safetensors(ps);
  CHECK(c.find("conv1.shift") != nullptr);
  CHECK(c.find("conv1.weight") == nullptr);
  auto e = run_cli("eval --weights " + ps + " --test-subset 200");
  CHECK(e.exit_code == 0);
  CHECK(has(e.output, " * Acc@1 "));
  // Train from the converted model (DeepShift's train-from-pretrained).
  auto t = run_cli("train --epochs 1 --optimizer radam --quant deepshift-ps --weights " + ps + " --out " +
                   tmp.file("ps_run") + kQuick);
  INFO(t.output);
  CHECK(t.exit_code == 0);
  auto hint = run_cli("train --epochs 1 --weights " + ps + " --out " + tmp.file("ps_run2") + kQuick);
  CHECK(hint.exit_code != 0);
  CHECK(has(hint.output, "holds a deepshift-ps model; pass --quant deepshift-ps"));
  // Any other family, not only none, is told which one the checkpoint holds.
  auto other = run_cli("train --epochs 1 --quant apot --weights " + ps + " --out " + tmp.file("ps_run3") + kQuick);
  INFO(other.output);
  CHECK(other.exit_code != 0);
  CHECK(has(other.output, "holds a deepshift-ps model; pass --quant deepshift-ps (and its options) to load it, not "
                          "--quant apot"));

  // APoT's progressive initialisation: a 4-bit run initialises a 3-bit one.
  std::string a4 = tmp.file("apot4"), a3 = tmp.file("apot3.safetensors");
  REQUIRE(run_cli("train --epochs 1 --quant apot --weight-bits 4 --out " + a4 + kQuick).exit_code == 0);
  auto p = run_cli("convert --weights " + a4 + "/last.safetensors --weight-bits 3 -o " + a3);
  INFO(p.output);
  REQUIRE(p.exit_code == 0);
  CHECK(has(p.output, "apot 3-bit"));
  // The converted codes fit 3 bits: inspect exports every APoT layer's codes (refusing a value off
  // the level set) and finds 7 levels, {0, +-1/4, +-1/2, +-1} times alpha.
  auto in3 = run_cli("inspect " + a3);
  INFO(in3.output);
  REQUIRE(in3.exit_code == 0);
  CHECK(has(in3.output, "conv2 (apot, 3-bit"));
  CHECK(has(in3.output, "fc1 (apot, 3-bit"));
  CHECK(!has(in3.output, "4-bit"));
  for (const char* layer : {"conv2 (", "fc1 ("}) {
    size_t at = in3.output.find(layer);
    REQUIRE(at != std::string::npos);
    std::string row = in3.output.substr(at, in3.output.find('\n', at) - at);
    INFO(row);
    CHECK(has(row, " of 7 levels used"));
  }
  SafetensorsContent k4 = load_safetensors(a4 + "/last.safetensors"), k3 = load_safetensors(a3);
  CHECK(k3.find("layer1.0.conv1.weight_alpha") == nullptr);  // mnist-conv: conv2 and fc1 are APoT layers
  CHECK(sl::test::tensor_of(k3, "conv2.weight_alpha").item() == sl::test::tensor_of(k4, "conv2.weight_alpha").item());
  CHECK(sl::test::tensor_of(k3, "conv2.weight").to_vector<float>() == sl::test::tensor_of(k4, "conv2.weight").to_vector<float>());
}

TEST_CASE("train --quant: bad options are reported with the option's name", "[cli][quant][errors]") {
  auto r = run_cli("train --quant deepshift-q --weight-bits 9" + kQuick);
  CHECK(r.exit_code != 0);
  CHECK(has(r.output, "weight bits must be in [2, 8], got 9"));
  r = run_cli("train --quant magic" + kQuick);
  CHECK(r.exit_code != 0);
  CHECK(has(r.output, "quant (--quant) 'magic' is not one of"));
  r = run_cli("train --quant deepshift-q --quant-depth -3" + kQuick);
  CHECK(r.exit_code != 0);
  CHECK(has(r.output, "quant_depth (--quant-depth) must be >= 0"));
  r = run_cli("train --quant apot --act-bits 9" + kQuick);
  CHECK(r.exit_code != 0);
  CHECK(has(r.output, "activation bits must be in [2, 6] or 32"));
  r = run_cli("convert --weights /nonexistent.safetensors --quant s3 -o /tmp/x.safetensors");
  CHECK(r.exit_code != 0);
  CHECK(has(r.output, "cannot open"));
}
