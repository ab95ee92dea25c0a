// One host copy of each layer's effective weight (and of the latents a family's quantities need),
// then linear passes over those copies: the cost is a few passes over the parameters per epoch,
// against an epoch's thousands of forward and backward passes.
#include "train/stats.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "engine/error.h"
#include "engine/rng.h"
#include "layers/weight_layer.h"
#include "quant/apot.h"
#include "quant/families.h"
#include "quant/deepshift.h"
#include "quant/denseshift.h"
#include "quant/s3.h"

namespace sl {

namespace {

using Json = nlohmann::ordered_json;

double l2(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// ||a - b|| / ||b||: how far the effective weight `a` sits from the continuous weight `b`.
Json relative_distance(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    n += b[i] * b[i];
  }
  return n > 0 ? Json(std::sqrt(d / n)) : Json(nullptr);
}

std::vector<double> host(const Tensor& t) { return t.to_vector<double>(); }

double fraction(int64_t count, size_t n) { return n > 0 ? static_cast<double>(count) / static_cast<double>(n) : 0; }

// kWeightHistogramBins equal bins over [-m, m], m = max |w| (a zero tensor gets m = 1).
Json value_histogram(const std::vector<double>& w) {
  double m = 0;
  for (double x : w) m = std::max(m, std::abs(x));
  if (m == 0) m = 1;
  std::vector<int64_t> counts(kWeightHistogramBins, 0);
  const double width = 2 * m / kWeightHistogramBins;
  for (double x : w) {
    int b = static_cast<int>(std::floor((x + m) / width));
    ++counts[static_cast<size_t>(std::clamp(b, 0, kWeightHistogramBins - 1))];
  }
  return Json{{"lo", -m}, {"hi", m}, {"counts", counts}};
}

// L2 norm of the gradients the last step left in the layer's parameters (latents included).
Json grad_norm(const Module& layer) {
  double s = 0;
  bool any = false;
  for (const auto& [name, p] : layer.named_parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    any = true;
    for (double x : host(g)) s += x * x;
  }
  return any ? Json(std::sqrt(s)) : Json(nullptr);
}

struct Range {
  double lo = INFINITY, hi = -INFINITY, abs_sum = 0;
  void add(double x) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    abs_sum += std::abs(x);
  }
};

Range range_of(const std::vector<double>& v) {
  Range r;
  for (double x : v) r.add(x);
  return r;
}

double open_fraction(const Tensor& gate) {
  std::vector<double> g = host(gate);
  return fraction(std::count_if(g.begin(), g.end(), [](double x) { return x > 0; }), g.size());
}

// The family's own quantities, and the distance of the effective weight `eff` from the family's
// continuous weight (null for the gated families, whose latents are not weights).
void add_family(Json& row, WeightLayer& layer, WeightQuantizer& q, const std::vector<double>& eff) {
  Json family = Json::object();
  Json distance = nullptr;
  if (auto* ps = dynamic_cast<DeepShiftPS*>(&q)) {
    std::vector<double> p = host(ps->shift()), s = host(ps->sign()), cont(eff.size());
    Range pr = range_of(p), sr = range_of(s);
    family = {{"p_min", pr.lo}, {"p_max", pr.hi}, {"s_min", sr.lo}, {"s_max", sr.hi}};
    for (size_t i = 0; i < eff.size(); ++i) cont[i] = ((eff[i] > 0) - (eff[i] < 0)) * std::exp2(p[i]);
    distance = relative_distance(eff, cont);
  } else if (dynamic_cast<DeepShiftQ*>(&q)) {
    std::vector<double> w = host(layer.weight()), a(w.size());
    std::transform(w.begin(), w.end(), a.begin(), [](double x) { return std::abs(x); });
    Range r = range_of(a);
    family = {{"latent_abs_min", r.lo}, {"latent_abs_max", r.hi}};
    distance = relative_distance(eff, w);
  } else if (auto* apot = dynamic_cast<APoTWeight*>(&q)) {
    // Distance in the normalised units the quantizer works in: (W - mean) / std against W_q / std.
    std::vector<double> w = host(layer.weight());
    double mean = 0, var = 0;
    for (double x : w) mean += x;
    mean /= static_cast<double>(w.size());
    for (double x : w) var += (x - mean) * (x - mean);
    double sd = std::sqrt(var / static_cast<double>(std::max<size_t>(w.size() - 1, 1)));
    double alpha = apot->alpha().item(), to_normalised = alpha / q.scale();
    std::vector<double> wn(w.size()), en(w.size());
    int64_t clipped = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      wn[i] = sd > 0 ? (w[i] - mean) / sd : 0;
      en[i] = eff[i] * to_normalised;
      clipped += std::abs(wn[i]) > alpha;
    }
    family = {{"alpha", alpha}, {"clipped_frac", fraction(clipped, w.size())}};
    if (auto act = std::dynamic_pointer_cast<APoTActivation>(layer.input_quantizer()))
      family["act_alpha"] = act->alpha().item();
    distance = relative_distance(en, wn);
  } else if (dynamic_cast<APoTFirstLast*>(&q)) {
    family = {{"scale", q.scale()}};
    distance = relative_distance(eff, host(layer.weight()));
  } else if (auto* s3 = dynamic_cast<S3Weight*>(&q)) {
    Range sign = range_of(host(layer.weight()));
    std::vector<double> open;
    for (const Tensor& t : s3->shifts()) open.push_back(open_fraction(t));
    family = {{"sparsity", 1 - open_fraction(s3->sparse())},
              {"sign_latent_abs_mean", sign.abs_sum / static_cast<double>(eff.size())},
              {"sign_latent_min", sign.lo},
              {"sign_latent_max", sign.hi},
              {"shift_gates_open", open}};
  } else if (auto* ds = dynamic_cast<DenseShiftWeight*>(&q)) {
    Range sign = range_of(host(layer.weight()));
    std::vector<double> open;
    for (const Tensor& t : ds->gates()) open.push_back(open_fraction(t));
    family = {{"level_scale", q.scale()},
              {"sign_latent_abs_mean", sign.abs_sum / static_cast<double>(eff.size())},
              {"gates_open", open}};
  }
  row["latent_distance"] = distance;
  row["family"] = family;
}

bool is_shift_family(const std::string& method) {
  const QuantFamily* family = find_quant_family(method);  // null for the 8-bit first/last layers
  return family && family->power_of_two_levels;
}

}  // namespace

void StatsRecorder::snapshot(Module& model) { collect(model, -1, false); }

std::vector<Json> StatsRecorder::record(Module& model, int64_t epoch) { return collect(model, epoch, true); }

std::vector<Json> StatsRecorder::collect(Module& model, int64_t epoch, bool keep_rows) {
  Generator& gen = default_generator();
  const uint64_t seed = gen.seed(), offset = gen.offset();
  std::vector<Json> rows;
  for (auto& [name, m] : model.named_modules()) {
    auto layer = std::dynamic_pointer_cast<WeightLayer>(m);
    if (!layer) continue;
    auto q = std::dynamic_pointer_cast<WeightQuantizer>(layer->weight_parametrization());
    Json row = {{"epoch", epoch}, {"layer", name}, {"method", q ? q->method() : "fp32"}};
    std::vector<double> eff;
    if (q) {
      ExportedCodes codes = q->export_codes(layer->weight());
      std::vector<int8_t> sign = codes.sign.to_vector<int8_t>();
      std::vector<int32_t> index = codes.index.to_vector<int32_t>();
      const std::vector<double>& mags = codes.magnitudes;
      std::vector<double> levels = q->levels();
      std::vector<int64_t> counts(levels.size(), 0);
      int64_t zeros = 0, at_clip = 0, at_min = 0;
      const size_t top = mags.size() - 1, smallest = mags.front() == 0 ? 1 : 0;
      eff.resize(sign.size());
      for (size_t i = 0; i < sign.size(); ++i) {
        const size_t k = static_cast<size_t>(index[i]);
        const double v = sign[i] * mags[k];
        eff[i] = v * codes.scale;
        if (v == 0) {
          ++zeros;
        } else {
          at_clip += k == top;
          at_min += k == smallest;
        }
        auto it = std::lower_bound(levels.begin(), levels.end(), v);
        if (it != levels.end() && *it == v) ++counts[static_cast<size_t>(it - levels.begin())];
      }
      const size_t n = sign.size();
      Json flips = nullptr, changes = nullptr;
      auto prev = previous_.find(name);
      if (prev != previous_.end() && prev->second.sign.size() == n) {
        int64_t f = 0, c = 0;
        for (size_t i = 0; i < n; ++i) {
          const int8_t a = prev->second.sign[i], b = sign[i];
          f += a != 0 && b != 0 && a != b;
          c += a != b || prev->second.index[i] != index[i];
        }
        flips = fraction(f, n);
        changes = fraction(c, n);
      }
      previous_[name] = Codes{std::move(sign), std::move(index)};
      if (!keep_rows) continue;
      Json exp_min = nullptr, exp_max = nullptr;
      if (is_shift_family(q->method())) {
        for (size_t j = 0; j < levels.size(); ++j)
          if (counts[j] > 0 && levels[j] != 0) {
            int e = static_cast<int>(std::lround(std::log2(std::abs(levels[j]))));
            exp_min = exp_min.is_null() ? e : std::min(exp_min.get<int>(), e);
            exp_max = exp_max.is_null() ? e : std::max(exp_max.get<int>(), e);
          }
      }
      row["bits"] = q->bits();
      row["weights"] = n;
      row["scale"] = codes.scale;
      row["levels"] = levels;
      row["counts"] = counts;
      row["levels_used"] = std::count_if(counts.begin(), counts.end(), [](int64_t c) { return c > 0; });
      row["zero_frac"] = fraction(zeros, n);
      row["sign_flip_frac"] = flips;
      row["level_change_frac"] = changes;
      row["clip_frac"] = fraction(at_clip, n);
      row["min_level_frac"] = fraction(at_min, n);
      row["exp_min"] = exp_min;
      row["exp_max"] = exp_max;
      add_family(row, *layer, *q, eff);
    } else {
      if (!keep_rows) continue;
      eff = host(layer->weight());
      row["weights"] = eff.size();
      row["zero_frac"] = fraction(std::count(eff.begin(), eff.end(), 0.0), eff.size());
    }
    row["weight_norm"] = l2(eff);
    row["latent_norm"] = layer->weight().defined() ? Json(l2(host(layer->weight()))) : Json(nullptr);
    row["grad_norm"] = grad_norm(*layer);
    row["weight_hist"] = value_histogram(eff);
    rows.push_back(std::move(row));
  }
  gen.set_state(seed, offset);
  return rows;
}

void append_jsonl(const std::string& path, const std::vector<nlohmann::ordered_json>& rows) {
  std::ofstream out(path, std::ios::app);
  SL_CHECK(out, "cannot open '{}' for appending", path);
  for (const auto& r : rows) out << r.dump() << "\n";
  SL_CHECK(out.good(), "cannot write '{}'", path);
}

}  // namespace sl
