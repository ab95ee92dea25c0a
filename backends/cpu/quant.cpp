// Quantizer kernels: projection onto a sorted level set (APoT, uniform and any table-driven family)
// and the fused quantizers (DeepShift-Q/PS, fixed point, S3, DenseShift, APoT's clipped STE), on the
// per-target kernels of simd/, split over threads (element-wise, so the split does not change results).
#include <algorithm>
#include <array>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/row_sum.h"
#include "backends/cpu/simd/kernels.h"
#include "backends/cpu/simd/nearest_level.h"

namespace sl::cpu {

namespace {

// A level set given in double, in T, with its LevelThresholds (null when it has none).
template <class T>
struct LevelsIn {
  LevelsIn(const double* levels, const int32_t* rank, int64_t nlev)
      : values(levels, levels + nlev), thresholds(LevelThresholds(values.data(), rank, nlev)) {}
  const T* threshold_data() const { return thresholds.empty() ? nullptr : thresholds.data(); }
  std::vector<T> values, thresholds;
};

void nearest_level(DType dt, const void* x, int64_t n, const double* levels, const int32_t* rank, int64_t nlev,
                   void* value, int32_t* index) {
  SL_CHECK(nlev > 0, "nearest_level: empty level set");
  dispatch_floating(dt, "nearest_level", [&](auto tag) {
    using T = decltype(tag);
    const LevelsIn<T> set(levels, rank, nlev);
    const auto run = simd().typed<T>().nearest_level;
    parallel_for(n, kElementwiseGrain / 8, [&](int64_t b, int64_t e) {
      run(offset<T>(x, b), e - b, set.values.data(), rank, set.threshold_data(), nlev, offset<T>(value, b),
          offset<int32_t>(index, b));
    });
  });
}

void round_to_fixed(DType dt, const void* x, int64_t n, double delta, double lo, double hi, void* y) {
  dispatch_floating(dt, "round_to_fixed", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().round_to_fixed;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      run(offset<T>(x, b), e - b, static_cast<T>(delta), static_cast<T>(lo), static_cast<T>(hi), offset<T>(y, b));
    });
  });
}

void deepshift_ps_forward(DType dt, int64_t n, double lo, void* shift, const void* sign, void* w) {
  dispatch_floating(dt, "deepshift_ps_forward", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().deepshift_ps_forward;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      run(e - b, static_cast<T>(lo), offset<T>(shift, b), offset<T>(sign, b), offset<T>(w, b));
    });
  });
}

void deepshift_ps_backward(DType dt, int64_t n, const void* shift, const void* sign, const void* g, void* gshift) {
  dispatch_floating(dt, "deepshift_ps_backward", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().deepshift_ps_backward;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      run(e - b, offset<T>(shift, b), offset<T>(sign, b), offset<T>(g, b), offset<T>(gshift, b));
    });
  });
}

void deepshift_q_forward(DType dt, int64_t n, double lo, double hi, void* w, void* wq) {
  dispatch_floating(dt, "deepshift_q_forward", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().deepshift_q_forward;
    parallel_for(n, kElementwiseGrain / 8, [&](int64_t b, int64_t e) {
      run(e - b, static_cast<T>(lo), static_cast<T>(hi), offset<T>(w, b), offset<T>(wq, b));
    });
  });
}

constexpr int kMaxLatents = 8;

// The k latents (inputs) or their gradients (outputs, null when not wanted) from element b on.
template <class T>
std::array<const T*, kMaxLatents> offset_in(const void* const* p, int k, int64_t b) {
  std::array<const T*, kMaxLatents> out{};
  for (int j = 0; j < k; ++j) out[size_t(j)] = offset<T>(p[j], b);
  return out;
}
template <class T>
std::array<T*, kMaxLatents> offset_out(void* const* p, int k, int64_t b) {
  std::array<T*, kMaxLatents> out{};
  for (int j = 0; j < k; ++j) out[size_t(j)] = offset<T>(p[j], b);
  return out;
}

void check_latents(const char* kernel, int k) {
  SL_CHECK(k >= 0 && k <= kMaxLatents, "{}: {} latents, at most {}", kernel, k, kMaxLatents);
}

void s3_forward(DType dt, int64_t n, int k, const void* weight, const void* sparse, const void* const* shifts,
                double scale, void* w) {
  check_latents("s3_forward", k);
  dispatch_floating(dt, "s3_forward", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().s3_forward;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      const auto sh = offset_in<T>(shifts, k, b);
      run(e - b, k, offset<T>(weight, b), offset<T>(sparse, b), sh.data(), static_cast<T>(scale), offset<T>(w, b));
    });
  });
}

void s3_backward(DType dt, int64_t n, int k, const void* weight, const void* sparse, const void* const* shifts,
                 double scale, const void* g, void* gweight, void* gsparse, void* const* gshifts) {
  check_latents("s3_backward", k);
  dispatch_floating(dt, "s3_backward", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().s3_backward;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      const auto sh = offset_in<T>(shifts, k, b);
      const auto gs = offset_out<T>(gshifts, k, b);
      run(e - b, k, offset<T>(weight, b), offset<T>(sparse, b), sh.data(), static_cast<T>(scale), offset<T>(g, b),
          offset<T>(gweight, b), offset<T>(gsparse, b), gs.data());
    });
  });
}

void denseshift_forward(DType dt, int64_t n, int k, const void* weight, const void* const* gates, double scale, void* w) {
  check_latents("denseshift_forward", k);
  dispatch_floating(dt, "denseshift_forward", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().denseshift_forward;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      const auto gt = offset_in<T>(gates, k, b);
      run(e - b, k, offset<T>(weight, b), gt.data(), static_cast<T>(scale), offset<T>(w, b));
    });
  });
}

void denseshift_backward(DType dt, int64_t n, int k, const void* weight, const void* const* gates, double scale,
                         const void* g, void* gweight, void* const* ggates) {
  check_latents("denseshift_backward", k);
  dispatch_floating(dt, "denseshift_backward", [&](auto tag) {
    using T = decltype(tag);
    const auto run = simd().typed<T>().denseshift_backward;
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
      const auto gt = offset_in<T>(gates, k, b);
      const auto gg = offset_out<T>(ggates, k, b);
      run(e - b, k, offset<T>(weight, b), gt.data(), static_cast<T>(scale), offset<T>(g, b),
          offset<T>(gweight, b), gg.data());
    });
  });
}

// ApotProjection in T: the level set (with its thresholds) converted, or the steps.
template <class T>
struct ProjectionIn {
  explicit ProjectionIn(const ApotProjection& p) : set(p.levels, p.tie_rank, p.levels ? p.nlevels : 0) {
    pt.levels = p.levels ? set.values.data() : nullptr;
    pt.tie_rank = p.tie_rank;
    pt.thresholds = set.threshold_data();
    pt.nlevels = p.nlevels;
    pt.steps = static_cast<T>(p.steps);
    pt.symmetric = p.symmetric;
  }
  ProjectionIn(const ProjectionIn&) = delete;  // pt points into set
  LevelsIn<T> set;
  LevelProjection<T> pt;
};

void check_projection(const ApotProjection& p, const char* op) {
  SL_CHECK(p.levels ? p.nlevels > 0 : p.steps > 0, "{}: a projection needs levels or steps", op);
}

void apot_quantize(DType dt, const void* x, int64_t n, double a, double lo, double hi, double scale,
                   const ApotProjection& p, void* out) {
  check_projection(p, "apot_quantize");
  dispatch_floating(dt, "apot_quantize", [&](auto tag) {
    using T = decltype(tag);
    const ProjectionIn<T> proj(p);
    const auto run = simd().typed<T>().apot_quantize;
    parallel_for(n, kElementwiseGrain / 8, [&](int64_t b, int64_t e) {
      run(offset<T>(x, b), e - b, static_cast<T>(a), static_cast<T>(lo), static_cast<T>(hi), static_cast<T>(scale),
          proj.pt, offset<T>(out, b));
    });
  });
}

void apot_backward(DType dt, const void* g, const void* x, int64_t n, double a, double lo, double hi, double scale,
                   const ApotProjection& p, void* gx, void* ga) {
  check_projection(p, "apot_backward");
  dispatch_floating(dt, "apot_backward", [&](auto tag) {
    using T = decltype(tag);
    const ProjectionIn<T> proj(p);
    const auto run = simd().typed<T>().apot_backward;
    // Chunked as reduce.cpp sums a row, so a's gradient has the bits of sum(terms) of the composition.
    const int64_t chunks = sum_chunks(n), len = chunks > 1 ? kSumChunk : n;
    std::vector<RowSum> sum_out(static_cast<size_t>(chunks)), sum_ratio(static_cast<size_t>(chunks));
    parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) {
        const int64_t b = c * len, e = std::min(n, b + len);
        run(offset<T>(g, b), offset<T>(x, b), e - b, static_cast<T>(a), static_cast<T>(lo), static_cast<T>(hi),
            static_cast<T>(scale), proj.pt, offset<T>(gx, b), ga ? &sum_out[size_t(c)] : nullptr,
            ga ? &sum_ratio[size_t(c)] : nullptr);
      }
    });
    if (!ga) return;
    auto total = [&](const std::vector<RowSum>& parts) {
      if (parts.size() == 1) return static_cast<T>(parts[0].total());
      double t = 0;
      for (const RowSum& part : parts) t += part.total();
      return static_cast<T>(t);
    };
    *static_cast<T*>(ga) = total(sum_out) + total(sum_ratio);
  });
}

}  // namespace

void register_quant(Backend& b) {
  b.apot_quantize = apot_quantize;
  b.apot_backward = apot_backward;
  b.s3_forward = s3_forward;
  b.s3_backward = s3_backward;
  b.denseshift_forward = denseshift_forward;
  b.denseshift_backward = denseshift_backward;
  b.nearest_level = nearest_level;
  b.round_to_fixed = round_to_fixed;
  b.deepshift_ps_forward = deepshift_ps_forward;
  b.deepshift_ps_backward = deepshift_ps_backward;
  b.deepshift_q_forward = deepshift_q_forward;
}

}  // namespace sl::cpu
