// The per-epoch layer statistics (train/stats.h) on a tiny model whose weights are set by hand, so
// every number below is worked out on paper in the comments.
#include <cmath>

#include "helpers.h"
#include "engine/rng.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "quant/deepshift.h"
#include "quant/s3.h"
#include "train/stats.h"

using namespace sl;

namespace {

void set(const Tensor& t, const std::vector<float>& v) { copy_data(t, from_vector(v, t.shape())); }

double get(const nlohmann::ordered_json& row, const char* key) { return row[key].get<double>(); }

}  // namespace

TEST_CASE("stats: DeepShift-PS layer against hand-computed levels, flips, norms and P/S ranges", "[stats]") {
  // fc: 3 inputs -> 2 outputs, 3-bit DeepShift-PS: P in [-2, 0], magnitudes {0, 1/4, 1/2, 1}.
  auto ps_layer = std::make_shared<Linear>(3, 2, false);
  auto fp_layer = std::make_shared<Linear>(3, 2, false);
  auto ps = std::make_shared<DeepShiftPS>(ps_layer->weight(), 3, Rounding::deterministic, false);
  ps_layer->set_weight_parametrization(ps);
  ps_layer->remove_weight();
  Sequential model({ps_layer, fp_layer});
  // P rounds (and clamps) to [-1, 0, -2, -2, 0, 0]; S rounds to [1, -1, 0, -1, 1, 1]:
  // W = [0.5, -1, 0, -0.25, 1, 1].
  set(ps->shift(), {-1, 0, -1.6f, -3, 0.5f, -0.4f});
  set(ps->sign(), {1, -1, 0.2f, -0.7f, 1, 1});
  set(fp_layer->weight(), {-1, -0.5f, 0, 0.25f, 0.5f, 1});

  // The Sequential only names the layers ("0", "1"); each layer sees x = [1, 2, 3] and the loss is
  // the sum of both outputs, so dL/dW[o][i] = x[i] in each: dS = G and dP = G * W * ln2.
  Tensor x = from_vector(std::vector<float>{1, 2, 3}, {1, 3});
  add(sum(ps_layer->forward(x)), sum(fp_layer->forward(x))).backward();

  StatsRecorder rec;
  rec.snapshot(model);
  Generator& gen = default_generator();
  const uint64_t offset = gen.offset();
  auto rows = rec.record(model, 0);
  CHECK(gen.offset() == offset);
  REQUIRE(rows.size() == 2);
  auto& r = rows[0];
  CHECK(r["layer"] == "0");
  CHECK(r["method"] == "deepshift-ps");
  CHECK(r["bits"] == 3);
  CHECK(r["weights"] == 6);
  CHECK(r["levels"] == std::vector<double>{-1, -0.5, -0.25, 0, 0.25, 0.5, 1});
  CHECK(r["counts"] == std::vector<int64_t>{1, 0, 1, 1, 0, 1, 2});
  CHECK(r["levels_used"] == 5);
  CHECK(get(r, "zero_frac") == Approx(1.0 / 6));
  CHECK(get(r, "clip_frac") == Approx(3.0 / 6));       // -1, 1, 1
  CHECK(get(r, "min_level_frac") == Approx(1.0 / 6));  // -0.25
  CHECK(r["exp_min"] == -2);
  CHECK(r["exp_max"] == 0);
  CHECK(get(r, "sign_flip_frac") == 0);  // nothing moved since the snapshot
  CHECK(get(r, "level_change_frac") == 0);
  // After the in-place clamp P = [-1, 0, -1.6, -2, 0, -0.4].
  CHECK(get(r["family"], "p_min") == Approx(-2));
  CHECK(get(r["family"], "p_max") == Approx(0));
  CHECK(get(r["family"], "s_min") == Approx(-1));
  CHECK(get(r["family"], "s_max") == Approx(1));
  // Continuous weight sign(W) * 2^P = [0.5, -1, 0, -0.25, 1, 2^-0.4]: only the last element differs.
  double cont2 = 0.25 + 1 + 0.0625 + 1 + std::exp2(-0.8);
  CHECK(get(r, "latent_distance") == Approx((1 - std::exp2(-0.4)) / std::sqrt(cont2)));
  CHECK(get(r, "weight_norm") == Approx(std::sqrt(3.3125)));
  CHECK(r["latent_norm"].is_null());  // PS has no FP32 weight
  // |dS|^2 = 2 * (1 + 4 + 9) = 28; |dP|^2 = ln2^2 * sum((x_i W_oi)^2) = ln2^2 * (0.25 + 4 + 0 + 0.0625 + 4 + 9).
  CHECK(get(r, "grad_norm") == Approx(std::sqrt(28 + 17.3125 * std::log(2.0) * std::log(2.0))));

  // The FP32 layer: its value histogram over [-1, 1] in 32 bins of 1/16.
  auto& f = rows[1];
  CHECK(f["method"] == "fp32");
  CHECK(get(f, "zero_frac") == Approx(1.0 / 6));
  CHECK(get(f["weight_hist"], "lo") == -1);
  CHECK(get(f["weight_hist"], "hi") == 1);
  std::vector<int64_t> hist(32, 0);
  for (int bin : {0, 8, 16, 20, 24, 31}) hist[static_cast<size_t>(bin)] = 1;  // 1.0 falls in the last bin
  CHECK(f["weight_hist"]["counts"] == hist);
  CHECK(get(f, "weight_norm") == Approx(std::sqrt(1 + 0.25 + 0.0625 + 0.25 + 1)));
  // dW = x for each output row: |G| = sqrt(2 * 14).
  CHECK(get(f, "grad_norm") == Approx(std::sqrt(28.0)));

  // Element 0 flips sign (0.5 -> -0.5), element 2 leaves zero (0 -> 0.25), element 5 moves a level
  // (1 -> 0.5): one flip, three level changes out of six.
  set(ps->sign(), {-1, -1, 1, -0.7f, 1, 1});
  set(ps->shift(), {-1, 0, -1.6f, -2, 0, -1});
  auto next = rec.record(model, 1);
  CHECK(next[0]["epoch"] == 1);
  CHECK(get(next[0], "sign_flip_frac") == Approx(1.0 / 6));
  CHECK(get(next[0], "level_change_frac") == Approx(3.0 / 6));
  CHECK(get(next[0], "zero_frac") == 0);
  CHECK(next[1]["sign_flip_frac"].is_null());  // not a quantized layer
}

TEST_CASE("stats: no flips in a first record without a snapshot, S3 sparsity and gates", "[stats]") {
  auto layer = std::make_shared<Linear>(2, 2, false);
  Generator gen(3);
  auto s3 = std::make_shared<S3Weight>(layer->weight(), 3, S3Init::he, gen);
  layer->set_weight_parametrization(s3);
  Sequential model({layer});
  // 3 bits: two shift gates, k = b1 * (1 + b2), levels {0, 1, 2, 4}: W = [1, 0, -2, 0].
  set(layer->weight(), {0.5f, -0.1f, -0.3f, 0.2f});
  set(s3->sparse(), {1, -1, 2, 0});
  set(s3->shifts()[0], {-1, 1, 1, -1});
  set(s3->shifts()[1], {1, -1, -1, 1});
  StatsRecorder rec;
  auto rows = rec.record(model, 0);
  REQUIRE(rows.size() == 1);
  auto& r = rows[0];
  CHECK(r["method"] == "s3");
  CHECK(r["sign_flip_frac"].is_null());
  CHECK(r["levels"] == std::vector<double>{-4, -2, -1, 0, 1, 2, 4});
  CHECK(r["counts"] == std::vector<int64_t>{0, 1, 0, 2, 1, 0, 0});
  CHECK(get(r, "zero_frac") == Approx(0.5));
  CHECK(get(r, "clip_frac") == 0);                      // nothing at 4
  CHECK(get(r, "min_level_frac") == Approx(0.25));      // the 1
  CHECK(get(r["family"], "sparsity") == Approx(0.5));
  CHECK(get(r["family"], "sign_latent_abs_mean") == Approx((0.5 + 0.1 + 0.3 + 0.2) / 4));
  CHECK(r["family"]["shift_gates_open"] == std::vector<double>{0.5, 0.5});
  CHECK(r["latent_distance"].is_null());
  CHECK(r["exp_min"] == 0);
  CHECK(r["exp_max"] == 1);
}
