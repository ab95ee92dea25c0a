// The quantization flags of `shiftlab train`, and `convert` / `inspect`, run as real processes.
#include "engine/safetensors.h"
#include "helpers.h"

using namespace sl;
using sl::test::run_cli;
using sl::test::TempDir;

namespace {
const std::string kQuick = " --subset 600 --test-subset 200 --batch-size 50 --test-batch-size 200 --print-freq 1000";
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("train --quant: every family trains a step on Fashion-MNIST and inspect shows its levels", "[cli][quant]") {
  TempDir tmp("quant");
  for (const char* q : {"deepshift-q", "deepshift-ps", "apot", "uniform", "s3", "denseshift"}) {
    INFO(q);
    std::string out = tmp.file(q);
    auto r = run_cli(std::string("train --epochs 1 --quant ") + q + " --out " + out + kQuick);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(has(r.output, std::string("quantization: ") + q));
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

  // APoT's progressive initialisation: a 4-bit run initialises a 3-bit one.
  std::string a4 = tmp.file("apot4"), a3 = tmp.file("apot3.safetensors");
  REQUIRE(run_cli("train --epochs 1 --quant apot --weight-bits 4 --out " + a4 + kQuick).exit_code == 0);
  auto p = run_cli("convert --weights " + a4 + "/last.safetensors --weight-bits 3 -o " + a3);
  INFO(p.output);
  REQUIRE(p.exit_code == 0);
  CHECK(has(p.output, "apot 3-bit"));
  SafetensorsContent k4 = load_safetensors(a4 + "/last.safetensors"), k3 = load_safetensors(a3);
  CHECK(k3.find("layer1.0.conv1.weight_alpha") == nullptr);  // mnist-conv: conv2 and fc1 are APoT layers
  CHECK(k3.find("conv2.weight_alpha")->item() == k4.find("conv2.weight_alpha")->item());
  CHECK(k3.find("conv2.weight")->to_vector<float>() == k4.find("conv2.weight")->to_vector<float>());
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
