// `shiftlab quantize` run as a real process on the golden inputs reproduces the golden outputs.
#include "engine/npy.h"
#include "helpers.h"

using namespace sl;
using sl::test::check_values;
using sl::test::golden_path;
using sl::test::run_cli;

namespace {
std::string g(const std::string& name) { return golden_path(name + ".npy"); }
}  // namespace

TEST_CASE("cli quantize reproduces every family's golden forward", "[cli][quant]") {
  sl::test::TempDir tmp("quantize");
  std::string out = tmp.file("out.npy");
  struct Case {
    std::string args, golden;
    std::vector<uint8_t> skip;
  };
  std::vector<uint8_t> ties = load_npy(g("deepshift/q_tie_mask")).to_vector<uint8_t>();
  std::vector<Case> cases = {
      {"--method deepshift-q --weight-bits 5 --in " + g("deepshift/q_w"), "deepshift/q_wb5", ties},
      {"--method deepshift-q --weight-bits 3 --in " + g("deepshift/q_w"), "deepshift/q_wb3", ties},
      {"--method deepshift-ps --weight-bits 4 --in " + g("deepshift/ps_P") + " --in " + g("deepshift/ps_S"), "deepshift/ps_W_wb4", {}},
      {"--method fixed --fixed 3 5 --in " + g("deepshift/fixed_x"), "deepshift/fixed_i3_f5", {}},
      {"--method apot --weight-bits 4 --alpha 2.0 --in " + g("apot_s3/apot_W"), "apot_s3/apot_in_w4_a2.0_wq", {}},
      {"--method apot --weight-bits 5 --alpha 2.5 --flavour cifar --in " + g("apot_s3/apot_W"), "apot_s3/apot_cf_w5_a2.5_wq", {}},
      {"--method uniform --weight-bits 3 --alpha 1.5 --in " + g("apot_s3/apot_W"), "apot_s3/apot_in_w3_a1.5_uniform_wq", {}},
      {"--method apot --weight-bits 2 --alpha 0.65 --in " + g("apot_s3/apot_W"), "apot_s3/apot_in_w2_a0.65_wq", {}},
      {"--method apot --act-bits 3 --alpha 1.7 --in " + g("apot_s3/apot_X"), "apot_s3/apot_in_x3_a1.7_xq", {}},
      {"--method apot-8bit --in " + g("apot_s3/apot_first_W"), "apot_s3/apot_first_wq", {}},
      {"--method s3 --weight-bits 3 --in " + g("apot_s3/s3_w_sign") + " --in " + g("apot_s3/s3_w_val") + " --in " +
           g("apot_s3/s3_w_shift") + " --in " + g("apot_s3/s3_w_shift2"),
       "apot_s3/s3_W", {}},
      {"--method denseshift --weight-bits 3 --in " + g("apot_s3/ds_w_sign") + " --in " + g("apot_s3/ds_t1") + " --in " +
           g("apot_s3/ds_t2") + " --in " + g("apot_s3/ds_t3"),
       "apot_s3/ds_W", {}},
  };
  for (const Case& c : cases) {
    INFO(c.args);
    auto r = run_cli("quantize " + c.args + " --out " + out);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    check_values(load_npy(out), load_npy(g(c.golden)), 1e-6, c.skip);
  }
}

TEST_CASE("cli quantize --levels prints the level set, bad options fail with one clear line", "[cli][quant]") {
  auto r = run_cli("quantize --method deepshift-ps --weight-bits 3 --levels");
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("7 deepshift-ps levels") != std::string::npos);
  r = run_cli("quantize --method denseshift --weight-bits 2 --levels");
  CHECK(r.output.find("4 denseshift levels") != std::string::npos);
  r = run_cli("quantize --method apot --weight-bits 9 --levels");
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("--weight-bits") != std::string::npos);
  r = run_cli("quantize --method nope --levels");
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("unknown method 'nope'") != std::string::npos);
  r = run_cli("quantize --method s3 --in " + g("apot_s3/s3_W") + " --out /tmp/x.npy");
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("expected 4 --in file(s)") != std::string::npos);
  r = run_cli("quantize --method s3 --weight-bits 6 --levels");
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("s3: weight bits must be in [2, 4], got 6") != std::string::npos);
  r = run_cli("quantize --method deepshift-q --in /nonexistent.npy --out /tmp/x.npy");
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("cannot open '/nonexistent.npy'") != std::string::npos);
}
