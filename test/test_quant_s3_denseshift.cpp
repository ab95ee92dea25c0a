// S3 and DenseShift against the golden vectors of the original code (3-bit), plus the level-set
// properties of the N-bit generalisations.
#include "golden.h"
#include "quant/denseshift.h"
#include "quant/s3.h"

using namespace sl;
using sl::test::check_values;
using sl::test::golden_path;

namespace {
Tensor golden(const std::string& name) { return sl::test::golden("apot_s3/" + name); }
Tensor param(const std::string& name) { return sl::test::golden_param("apot_s3/" + name); }
}  // namespace

TEST_CASE("s3 3-bit: weight, exponent, latent gradients and the dense-weight regulariser", "[quant][s3]") {
  Generator gen(1);
  Tensor w = param("s3_w_sign");
  S3Weight q(w, 3, S3Init::he, gen);
  copy_data(w, golden("s3_w_sign"));
  copy_data(q.sparse(), golden("s3_w_val"));
  copy_data(q.shifts()[0], golden("s3_w_shift"));
  copy_data(q.shifts()[1], golden("s3_w_shift2"));
  Tensor wq = q.effective_weight(w);
  check_values(wq, golden("s3_W"));
  sum(mul(wq, golden("s3_G"))).backward();
  check_values(w.grad(), golden("s3_dw_sign"), 1e-6);
  check_values(q.sparse().grad(), golden("s3_dw_val"), 1e-6);
  check_values(q.shifts()[0].grad(), golden("s3_dw_shift"), 1e-6);
  check_values(q.shifts()[1].grad(), golden("s3_dw_shift2"), 1e-6);
  ExportedCodes codes = q.export_codes(w);
  std::vector<int32_t> idx = codes.index.to_vector<int32_t>();
  std::vector<int8_t> k = golden("s3_k").to_vector<int8_t>();
  std::vector<float> wv = golden("s3_W").to_vector<float>();
  for (size_t i = 0; i < idx.size(); ++i)
    if (wv[i] != 0) CHECK(idx[i] == k[i] + 1);  // magnitudes {0, 1, 2, 4}: index = k + 1

  q.sparse().set_grad(Tensor());
  Tensor reg = q.regularization();
  check_values(reg, golden("s3_reg"), 1e-6);
  reg.backward();
  check_values(q.sparse().grad(), golden("s3_dreg"));
  auto names = q.named_parameters();
  REQUIRE(names.size() == 3);
  CHECK(names[0].first == "sparse");
  CHECK(names[1].first == "shift1");
}

TEST_CASE("s3 initialisations: dense starts at +-1, he has about half the weights zero", "[quant][s3]") {
  Generator gen(7);
  Tensor w = zeros({64, 32, 3, 3});
  w.requires_grad_();
  S3Weight dense(w, 3, S3Init::dense, gen);
  for (float v : dense.effective_weight(w).detach().to_vector<float>()) CHECK(std::abs(v) == 1.0f);
  S3Weight he(w, 3, S3Init::he, gen);
  int64_t zeros_n = 0;
  std::vector<float> v = he.effective_weight(w).detach().to_vector<float>();
  for (float x : v) zeros_n += x == 0;
  CHECK(zeros_n > static_cast<int64_t>(v.size()) * 4 / 10);
  CHECK(zeros_n < static_cast<int64_t>(v.size()) * 6 / 10);
}

TEST_CASE("denseshift 3-bit: zero-free weight, exponent and the sqrt(p+1) surrogate gradients", "[quant][denseshift]") {
  Generator gen(1);
  Tensor w = param("ds_w_sign");
  DenseShiftWeight q(w, 3, gen);
  copy_data(w, golden("ds_w_sign"));
  for (int i = 0; i < 3; ++i) copy_data(q.gates()[static_cast<size_t>(i)], golden("ds_t" + std::to_string(i + 1)));
  Tensor wq = q.effective_weight(w);
  check_values(wq, golden("ds_W"));
  sum(mul(wq, golden("ds_G"))).backward();
  check_values(w.grad(), golden("ds_dw_sign"), 1e-6);
  for (int i = 0; i < 3; ++i)
    check_values(q.gates()[static_cast<size_t>(i)].grad(), golden("ds_dt" + std::to_string(i + 1)), 1e-6);
  ExportedCodes codes = q.export_codes(w);
  check_values(codes.index.to(DType::f32), golden("ds_p").to(DType::f32));
  for (int8_t s : codes.sign.to_vector<int8_t>()) CHECK(s != 0);  // no zero level
}

TEST_CASE("s3 and denseshift level sets for 2 to 4 bits fit in the bit budget", "[quant][s3][denseshift]") {
  Generator gen(3);
  for (int bits = 2; bits <= 4; ++bits) {
    INFO("bits " << bits);
    Tensor w = zeros({8, 4, 3, 3});
    S3Weight s3(w, bits, S3Init::he, gen);
    CHECK(s3.levels().size() == static_cast<size_t>((1 << bits) - 1));  // zero plus 2^(N-1)-1 magnitudes each sign
    DenseShiftWeight ds(w, bits, gen);
    CHECK(ds.levels().size() == static_cast<size_t>(1 << bits));
    for (double v : ds.levels()) CHECK(v != 0);
    // Every produced weight is on the level set (export throws otherwise).
    ExportedCodes a = s3.export_codes(w), b = ds.export_codes(w);
    CHECK(a.sign.numel() == w.numel());
    CHECK(b.sign.numel() == w.numel());
  }
  Tensor w = zeros({2, 2, 1, 1});
  CHECK(sl::test::error_of([&] { S3Weight(w, 5, S3Init::he, gen); }).find("[2, 4]") != std::string::npos);
}
