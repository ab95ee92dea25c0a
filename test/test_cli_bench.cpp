// `shiftlab bench train` run for real: quantizer families beside FP32, ids, the JSON record.
#include <fstream>
#include <nlohmann/json.hpp>

#include "helpers.h"

using namespace sl;

TEST_CASE("bench train times quantizer families beside FP32 and names the CPU target", "[cli][bench]") {
  test::TempDir dir("bench");
  const std::string json = dir / "out.json";
  test::CliResult r = test::run_cli("bench train -a mnist-fc -b 8 --threads 1 --budget 0.05 --quant none deepshift-ps apot "
                                    "--weight-bits 4 --json " + json);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("mnist-fc-deepshift-ps-w4-train-b8") != std::string::npos);
  CHECK(r.output.find("x the FP32 step") != std::string::npos);
  std::ifstream in(json);
  nlohmann::json doc = nlohmann::json::parse(in);
  CHECK(doc["meta"]["cpu_target"].get<std::string>() == doc["results"][0]["cpu_target"].get<std::string>());
  REQUIRE(doc["results"].size() == 3);
  CHECK(doc["results"][0]["vs_fp32"].get<double>() == 1.0);
  CHECK(doc["results"][2]["id"].get<std::string>() == "mnist-fc-apot-w4-train-b8");
  CHECK(doc["results"][2]["vs_fp32"].get<double>() > 0);

  test::CliResult bad = test::run_cli("bench train -a mnist-fc --quant apotx");
  CHECK(bad.exit_code != 0);
  CHECK(bad.output.find("apotx") != std::string::npos);
}

TEST_CASE("bench train times several models beside the first, fused and unfused, with an expansion", "[cli][bench]") {
  test::TempDir dir("bench_models");
  const std::string json = dir / "out.json";
  test::CliResult r = test::run_cli("bench train -a mnist-fc shiftresnet20 --expansion 2 -b 2 --threads 1 --budget 0.05 "
                                    "--fusion on off --json " + json);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("x the mnist-fc-train-b2 step") != std::string::npos);
  CHECK(r.output.find("x the fused step") != std::string::npos);
  std::ifstream in(json);
  nlohmann::json doc = nlohmann::json::parse(in);
  REQUIRE(doc["results"].size() == 4);  // model by model, fused then unfused
  CHECK(doc["results"][0]["id"].get<std::string>() == "mnist-fc-train-b2");
  CHECK(doc["results"][1]["id"].get<std::string>() == "mnist-fc-train-b2-unfused");
  CHECK(doc["results"][2]["id"].get<std::string>() == "shiftresnet20-e2-train-b2");
  CHECK(doc["results"][3]["id"].get<std::string>() == "shiftresnet20-e2-train-b2-unfused");
  CHECK(doc["results"][0].count("vs_first_model") == 0);
  CHECK(doc["results"][2]["vs_first_model"].get<double>() > 0);
  CHECK(doc["results"][3]["vs_fused"].get<double>() > 0);

  test::CliResult bad = test::run_cli("bench train -a mnist-fc --expansion 3");
  CHECK(bad.exit_code != 0);
  CHECK(bad.output.find("--expansion 3 applies only to the ShiftResNets") != std::string::npos);
}

TEST_CASE("bench train and bench conv time Winograd and direct 3x3 convs side by side", "[cli][bench][winograd]") {
  test::TempDir dir("bench_winograd");
  const std::string json = dir / "out.json";
  test::CliResult r = test::run_cli("bench train -a resnet20 -b 2 --threads 1 --budget 0.05 --rounds 1 --fusion on off "
                                    "--winograd on off --json " + json);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("x the Winograd step") != std::string::npos);
  std::ifstream in(json);
  nlohmann::json doc = nlohmann::json::parse(in);
  REQUIRE(doc["results"].size() == 4);  // fused then unfused, each with Winograd then direct
  CHECK(doc["results"][0]["id"].get<std::string>() == "resnet20-train-b2");
  CHECK(doc["results"][1]["id"].get<std::string>() == "resnet20-train-b2-direct");
  CHECK(doc["results"][2]["id"].get<std::string>() == "resnet20-train-b2-unfused");
  CHECK(doc["results"][3]["id"].get<std::string>() == "resnet20-train-b2-unfused-direct");
  CHECK(doc["results"][1]["vs_winograd"].get<double>() > 0);
  CHECK(doc["results"][1].count("vs_fused") == 0);
  CHECK(doc["results"][3]["vs_winograd"].get<double>() > 0);
  CHECK(doc["results"][3]["vs_fused"].get<double>() > 0);

  test::CliResult conv = test::run_cli("bench conv -b 2 --size 8 --threads 1 --budget 0.01 --winograd on off");
  INFO(conv.output);
  REQUIRE(conv.exit_code == 0);
  CHECK(conv.output.find("Winograd F(2x2, 3x3)\nforward") != std::string::npos);
  CHECK(conv.output.find("direct\nforward") != std::string::npos);
  test::CliResult strided = test::run_cli("bench conv -b 2 --size 8 --stride 2 --threads 1 --budget 0.01");
  CHECK(strided.output.find("direct\nforward") != std::string::npos);  // Winograd takes stride 1 only
}

TEST_CASE("bench conv --shift times ShiftResNet's shifted 1x1 conv and refuses other kernels", "[cli][bench][shift]") {
  test::CliResult r =
      test::run_cli("bench conv -b 2 --in-channels 18 --out-channels 4 --size 6 --kernel 1 --padding 0 --shift 3 "
                    "--threads 1 --budget 0.01");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("shift_conv2d f32 x [2, 18, 6, 6] w [4, 18, 1, 1] shift 3x3 stride 1") != std::string::npos);
  CHECK(r.output.find("backward weight") != std::string::npos);
  test::CliResult spatial = test::run_cli("bench conv -b 2 --size 6 --shift 3 --threads 1 --budget 0.01");
  CHECK(spatial.exit_code != 0);
  CHECK(spatial.output.find("--kernel 1 --padding 0") != std::string::npos);
  test::CliResult even = test::run_cli("bench conv -b 2 --size 6 --kernel 1 --padding 0 --shift 2 --budget 0.01");
  CHECK(even.exit_code != 0);
  CHECK(even.output.find("--shift 2") != std::string::npos);
}

TEST_CASE("bench ops times the forward and backward of the op cases the filter picks", "[cli][bench]") {
  test::CliResult r = test::run_cli("bench ops --filter shift2d --threads 1 --repeat 1 --budget 0");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("shift2d n2 c9 5x4 kernel 3 dilation 1") != std::string::npos);
  CHECK(r.output.find("fwd+bwd ms") != std::string::npos);
  CHECK(r.output.find("conv2d") == std::string::npos);  // only what the filter picks

  test::CliResult bad = test::run_cli("bench ops --filter no-such-op");
  CHECK(bad.exit_code != 0);
  CHECK(bad.output.find("no case matches --filter 'no-such-op'") != std::string::npos);
}
