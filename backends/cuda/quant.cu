// Quantizer kernels, the twins of backends/cpu/quant.cpp: projection onto a sorted level set (APoT,
// uniform and any table-driven family) and the fused DeepShift / fixed-point kernels (the formulas of
// backends/cpu/simd/shift_quant_kernels.cpp, element by element).
//
// Level sets arrive as host arrays on every call but are few and fixed per quantizer, so each
// distinct (dtype, levels, tie ranks) table is uploaded once and kept on the device.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "backends/cuda/common.cuh"

namespace sl::cuda {

namespace {

// Same search as the CPU: lower_bound, then the nearest level of a small window around it with
// distances in T, ties to the smaller tie rank.
template <class T>
__device__ int64_t nearest_index(T v, const T* levels, const int32_t* rank, int64_t nlev) {
  int64_t a = 0, b = nlev;  // first level >= v
  while (a < b) {
    int64_t mid = a + (b - a) / 2;
    if (levels[mid] < v)
      a = mid + 1;
    else
      b = mid;
  }
  int64_t lo = a - 2 > 0 ? a - 2 : 0, end = a + 2 < nlev ? a + 2 : nlev;
  int64_t best = lo;
  T best_d = fabs(v - levels[lo]);
  for (int64_t k = lo + 1; k < end; ++k) {
    T d = fabs(v - levels[k]);
    if (d < best_d || (d == best_d && rank[k] < rank[best])) {
      best = k;
      best_d = d;
    }
  }
  return best;
}

template <class T>
__global__ void nearest_kernel(const T* x, int64_t n, const T* levels, const int32_t* rank, int64_t nlev, T* value,
                               int32_t* index) {
  SL_CUDA_LOOP(i, n) {
    const int64_t best = nearest_index(x[i], levels, rank, nlev);
    if (value) value[i] = levels[best];
    if (index) index[i] = static_cast<int32_t>(best);
  }
}

struct LevelTable {
  DType dt;
  std::vector<double> levels;
  std::vector<int32_t> rank;
  void* device;  // nlev values of dt, then nlev int32 ranks (at an 8-byte aligned offset)
};

constexpr size_t kMaxTables = 64;

size_t ranks_offset(size_t nlev, size_t elem) { return (nlev * elem + 7) / 8 * 8; }

// The device copy of a level table, uploaded on first use.
const void* device_table(DType dt, const double* levels, const int32_t* rank, int64_t nlev) {
  static std::mutex mu;
  static std::vector<LevelTable> tables;
  std::lock_guard<std::mutex> lock(mu);
  auto n = static_cast<size_t>(nlev);
  for (const LevelTable& t : tables) {
    if (t.dt == dt && t.levels.size() == n && std::equal(t.levels.begin(), t.levels.end(), levels) &&
        std::equal(t.rank.begin(), t.rank.end(), rank))
      return t.device;
  }
  if (tables.size() >= kMaxTables) {  // a process cycling through level sets: start over
    for (const LevelTable& t : tables) allocator().release(t.device);
    tables.clear();
  }
  size_t elem = dtype_size(dt), off = ranks_offset(n, elem);
  std::vector<char> host(off + n * sizeof(int32_t));
  for (size_t i = 0; i < n; ++i) {
    if (dt == DType::f32) {
      auto v = static_cast<float>(levels[i]);
      std::memcpy(host.data() + i * elem, &v, elem);
    } else {
      std::memcpy(host.data() + i * elem, &levels[i], elem);
    }
  }
  std::memcpy(host.data() + off, rank, n * sizeof(int32_t));
  void* dev = allocator().allocate(host.size());
  SL_CUDA_CHECK(cudaMemcpyAsync(dev, host.data(), host.size(), cudaMemcpyHostToDevice, stream()));
  SL_CUDA_CHECK(cudaStreamSynchronize(stream()));  // `host` is about to go away
  tables.push_back({dt, std::vector<double>(levels, levels + n), std::vector<int32_t>(rank, rank + n), dev});
  return dev;
}

// The level set's values (in T) and tie ranks on the device, from device_table.
template <class T>
struct DeviceLevels {
  const T* levels;
  const int32_t* rank;
};

template <class T>
DeviceLevels<T> device_levels(const double* levels, const int32_t* rank, int64_t nlev) {
  const char* table = static_cast<const char*>(device_table(DTypeOf<T>::value, levels, rank, nlev));
  return {reinterpret_cast<const T*>(table),
          reinterpret_cast<const int32_t*>(table + ranks_offset(static_cast<size_t>(nlev), sizeof(T)))};
}

void nearest_level(DType dt, const void* x, int64_t n, const double* levels, const int32_t* rank, int64_t nlev,
                   void* value, int32_t* index) {
  SL_CHECK(nlev > 0, "nearest_level: empty level set");
  dispatch_floating(dt, "nearest_level", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    const DeviceLevels<T> set = device_levels<T>(levels, rank, nlev);
    nearest_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const T*>(x), n, set.levels, set.rank,
                                                                nlev, static_cast<T*>(value), index);
    SL_CUDA_CHECK_LAUNCH();
  });
}

constexpr double kLn2 = 0.6931471805599453;

template <class T>
__global__ void round_to_fixed_kernel(const T* x, int64_t n, T delta, T lo, T hi, T* y) {
  SL_CUDA_LOOP(i, n) { y[i] = clamp_to(floor(x[i] / delta) * delta, lo, hi); }
}

template <class T>
__global__ void deepshift_ps_forward_kernel(int64_t n, T lo, T* shift, const T* sign, T* w) {
  SL_CUDA_LOOP(i, n) {
    const T s = clamp_to(shift[i], lo, T(0));
    shift[i] = s;
    w[i] = exact_exp2(rint(s)) * sign_of(rint(sign[i]));
  }
}

template <class T>
__global__ void deepshift_ps_backward_kernel(int64_t n, const T* shift, const T* sign, const T* g, T* gshift) {
  SL_CUDA_LOOP(i, n) {
    gshift[i] = (g[i] * sign_of(rint(sign[i]))) * (exact_exp2(rint(shift[i])) * static_cast<T>(kLn2));
  }
}

template <class T>
__global__ void deepshift_q_forward_kernel(int64_t n, T lo, T hi, T* w, T* wq) {
  SL_CUDA_LOOP(i, n) {
    const T sg = sign_of(w[i]);
    const T c = sg * clamp_to(fabs(w[i]), lo, hi);
    w[i] = c;
    wq[i] = exact_exp2(rint(log(fabs(c)) / static_cast<T>(kLn2))) * sg;
  }
}

constexpr int kMaxLatents = 8;

// Latent pointers passed by value to the kernels.
template <class P>
struct Latents {
  P p[kMaxLatents];
};

template <class T>
__device__ T sign_ge0(T v) {  // +1 where v >= 0, else -1 (NaN too)
  return v >= T(0) ? T(1) : T(-1);
}

template <class T>
__device__ T positive(T v) {
  return v > T(0) ? T(1) : T(0);
}

template <class T>
__global__ void s3_forward_kernel(int64_t n, int k, const T* weight, const T* sparse, Latents<const T*> shifts, T scale,
                                  T* w) {
  SL_CUDA_LOOP(i, n) {
    T kv = 0;
    for (int j = k; j-- > 0;) kv = positive(shifts.p[j][i]) * (T(1) + kv);
    T v = (sign_ge0(weight[i]) * positive(sparse[i])) * exact_exp2(kv);
    w[i] = scale != T(1) ? v * scale : v;
  }
}

template <class T>
__global__ void s3_backward_kernel(int64_t n, int k, const T* weight, const T* sparse, Latents<const T*> shifts, T scale,
                                   const T* g, T* gweight, T* gsparse, Latents<T*> gshifts) {
  SL_CUDA_LOOP(i, n) {
    T b[kMaxLatents], suffix[kMaxLatents], kv = 0;
    for (int j = k; j-- > 0;) {
      b[j] = positive(shifts.p[j][i]);
      suffix[j] = T(1) + kv;
      kv = b[j] * suffix[j];
    }
    const T s = sign_ge0(weight[i]), z = positive(sparse[i]);
    const T gv = scale != T(1) ? g[i] * scale : g[i];
    const T gp = gv * exact_exp2(kv);
    if (gweight) gweight[i] = gp * z;
    if (gsparse) gsparse[i] = gp * s;
    const T base = ((gp * s) * z) * static_cast<T>(kLn2);
    T prefix = 1;
    for (int j = 0; j < k; ++j) {
      if (gshifts.p[j]) gshifts.p[j][i] = base * (prefix * suffix[j]);
      prefix = prefix * b[j];
    }
  }
}

template <class T>
__global__ void denseshift_forward_kernel(int64_t n, int k, const T* weight, Latents<const T*> gates, T scale, T* w) {
  SL_CUDA_LOOP(i, n) {
    T p = 0;
    for (int j = 0; j < k; ++j) p = (p + T(1)) * positive(gates.p[j][i]);
    const T v = sign_ge0(weight[i]) * exact_exp2(p);
    w[i] = scale != T(1) ? v * scale : v;
  }
}

template <class T>
__global__ void denseshift_backward_kernel(int64_t n, int k, const T* weight, Latents<const T*> gates, T scale,
                                           const T* g, T* gweight, Latents<T*> ggates) {
  SL_CUDA_LOOP(i, n) {
    T b[kMaxLatents], before[kMaxLatents], p = 0;
    for (int j = 0; j < k; ++j) {
      b[j] = positive(gates.p[j][i]);
      before[j] = p;
      p = (p + T(1)) * b[j];
    }
    const T r = sqrt(p + T(1));
    const T gv = scale != T(1) ? g[i] * scale : g[i];
    if (gweight) gweight[i] = gv * r;
    const T gp = (gv * sign_ge0(weight[i])) / (r * T(2));
    T suffix = 1;
    for (int j = k; j-- > 0;) {
      if (ggates.p[j]) ggates.p[j][i] = (gp * suffix) * (before[j] + T(1));
      suffix = suffix * b[j];
    }
  }
}

template <class T>
Latents<const T*> latents_in(const void* const* p, int k) {
  SL_CHECK(k >= 0 && k <= kMaxLatents, "at most {} quantizer latents, got {}", kMaxLatents, k);
  Latents<const T*> l{};
  for (int j = 0; j < k; ++j) l.p[j] = static_cast<const T*>(p[j]);
  return l;
}

template <class T>
Latents<T*> latents_out(void* const* p, int k) {
  SL_CHECK(k >= 0 && k <= kMaxLatents, "at most {} quantizer latents, got {}", kMaxLatents, k);
  Latents<T*> l{};
  for (int j = 0; j < k; ++j) l.p[j] = static_cast<T*>(p[j]);
  return l;
}

void s3_forward(DType dt, int64_t n, int k, const void* weight, const void* sparse, const void* const* shifts,
                double scale, void* w) {
  dispatch_floating(dt, "s3_forward", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    s3_forward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(n, k, static_cast<const T*>(weight),
                                                                   static_cast<const T*>(sparse), latents_in<T>(shifts, k),
                                                                   static_cast<T>(scale), static_cast<T*>(w));
    SL_CUDA_CHECK_LAUNCH();
  });
}

void s3_backward(DType dt, int64_t n, int k, const void* weight, const void* sparse, const void* const* shifts,
                 double scale, const void* g, void* gweight, void* gsparse, void* const* gshifts) {
  dispatch_floating(dt, "s3_backward", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    s3_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        n, k, static_cast<const T*>(weight), static_cast<const T*>(sparse), latents_in<T>(shifts, k),
        static_cast<T>(scale), static_cast<const T*>(g), static_cast<T*>(gweight), static_cast<T*>(gsparse),
        latents_out<T>(gshifts, k));
    SL_CUDA_CHECK_LAUNCH();
  });
}

void denseshift_forward(DType dt, int64_t n, int k, const void* weight, const void* const* gates, double scale, void* w) {
  dispatch_floating(dt, "denseshift_forward", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    denseshift_forward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        n, k, static_cast<const T*>(weight), latents_in<T>(gates, k), static_cast<T>(scale), static_cast<T*>(w));
    SL_CUDA_CHECK_LAUNCH();
  });
}

void denseshift_backward(DType dt, int64_t n, int k, const void* weight, const void* const* gates, double scale,
                         const void* g, void* gweight, void* const* ggates) {
  dispatch_floating(dt, "denseshift_backward", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    denseshift_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        n, k, static_cast<const T*>(weight), latents_in<T>(gates, k), static_cast<T>(scale), static_cast<const T*>(g),
        static_cast<T*>(gweight), latents_out<T>(ggates, k));
    SL_CUDA_CHECK_LAUNCH();
  });
}

// u = c + (q - c) with c = clamp(x / a, lo, hi) and q its projection: the CPU's steps
// (backends/cpu/simd/pool_quant_kernels.cpp ClippedProjector), run by the forward and again by the
// backward, so u is never stored.
template <class T>
__device__ T clipped_straight(T x, T a, T lo, T hi, const T* levels, const int32_t* rank, int64_t nlev, T steps,
                              bool symmetric) {
  const T c = clamp_to(x / a, lo, hi);
  T q;
  if (!levels)
    q = rint(clamp_to(c, symmetric ? T(-1) : T(0), T(1)) * steps) / steps;
  else if (symmetric)
    q = sign_of(c) * levels[nearest_index(fabs(c), levels, rank, nlev)];
  else
    q = levels[nearest_index(c, levels, rank, nlev)];
  return c + (q - c);
}

template <class T>
__global__ void apot_quantize_kernel(const T* x, int64_t n, T a, T lo, T hi, T scale, const T* levels,
                                     const int32_t* rank, int64_t nlev, T steps, bool symmetric, T* out) {
  SL_CUDA_LOOP(i, n) {
    const T v = clipped_straight(x[i], a, lo, hi, levels, rank, nlev, steps, symmetric);
    out[i] = scale != T(1) ? (v * a) * scale : v * a;
  }
}

template <class T>
__global__ void apot_backward_kernel(const T* g, const T* x, int64_t n, T a, T lo, T hi, T scale, const T* levels,
                                     const int32_t* rank, int64_t nlev, T steps, bool symmetric, T* gx, T* ga_out,
                                     T* ga_ratio) {
  SL_CUDA_LOOP(i, n) {
    const T gs = scale != T(1) ? g[i] * scale : g[i];
    const T r = x[i] / a;
    const T gr = (r >= lo && r <= hi) ? gs * a : T(0);
    if (gx) gx[i] = gr / a;
    if (ga_out) {
      ga_out[i] = gs * clipped_straight(x[i], a, lo, hi, levels, rank, nlev, steps, symmetric);
      ga_ratio[i] = -((gr * r) / a);
    }
  }
}

template <class T>
__global__ void add_pair_kernel(const T* s, T* out) { out[0] = s[0] + s[1]; }

void check_projection(const ApotProjection& p, const char* op) {
  SL_CHECK(p.levels ? p.nlevels > 0 : p.steps > 0, "{}: a projection needs levels or steps", op);
}

template <class T>
DeviceLevels<T> projection_levels(const ApotProjection& p) {
  return p.levels ? device_levels<T>(p.levels, p.tie_rank, p.nlevels) : DeviceLevels<T>{nullptr, nullptr};
}

void apot_quantize(DType dt, const void* x, int64_t n, double a, double lo, double hi, double scale,
                   const ApotProjection& p, void* out) {
  check_projection(p, "apot_quantize");
  dispatch_floating(dt, "apot_quantize", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    const DeviceLevels<T> set = projection_levels<T>(p);
    apot_quantize_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        static_cast<const T*>(x), n, static_cast<T>(a), static_cast<T>(lo), static_cast<T>(hi), static_cast<T>(scale),
        set.levels, set.rank, p.nlevels, static_cast<T>(p.steps), p.symmetric, static_cast<T*>(out));
    SL_CUDA_CHECK_LAUNCH();
  });
}

// The per-element terms of a's gradient go through temporaries and this backend's sum, then are
// added on the device, as the composition did.
void apot_backward(DType dt, const void* g, const void* x, int64_t n, double a, double lo, double hi, double scale,
                   const ApotProjection& p, void* gx, void* ga) {
  check_projection(p, "apot_backward");
  dispatch_floating(dt, "apot_backward", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    T *t_out = nullptr, *t_ratio = nullptr, *sums = nullptr;
    if (ga) {
      t_out = static_cast<T*>(allocator().allocate(static_cast<size_t>(n) * sizeof(T)));
      t_ratio = static_cast<T*>(allocator().allocate(static_cast<size_t>(n) * sizeof(T)));
      sums = static_cast<T*>(allocator().allocate(2 * sizeof(T)));
    }
    const DeviceLevels<T> set = projection_levels<T>(p);
    apot_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        static_cast<const T*>(g), static_cast<const T*>(x), n, static_cast<T>(a), static_cast<T>(lo),
        static_cast<T>(hi), static_cast<T>(scale), set.levels, set.rank, p.nlevels, static_cast<T>(p.steps),
        p.symmetric, static_cast<T*>(gx), t_out, t_ratio);
    SL_CUDA_CHECK_LAUNCH();
    if (!ga) return;
    const Backend& be = backend(Device::cuda);
    be.reduce(ReduceOp::sum, dt, t_out, ReduceDims{1, n, 1}, sums, nullptr);
    be.reduce(ReduceOp::sum, dt, t_ratio, ReduceDims{1, n, 1}, sums + 1, nullptr);
    add_pair_kernel<T><<<1, 1, 0, stream()>>>(sums, static_cast<T*>(ga));
    SL_CUDA_CHECK_LAUNCH();
    allocator().release(t_out);  // stream-ordered: the next user of these blocks queues behind the sums
    allocator().release(t_ratio);
    allocator().release(sums);
  });
}

void round_to_fixed(DType dt, const void* x, int64_t n, double delta, double lo, double hi, void* y) {
  dispatch_floating(dt, "round_to_fixed", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    round_to_fixed_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        static_cast<const T*>(x), n, static_cast<T>(delta), static_cast<T>(lo), static_cast<T>(hi), static_cast<T*>(y));
    SL_CUDA_CHECK_LAUNCH();
  });
}

void deepshift_ps_forward(DType dt, int64_t n, double lo, void* shift, const void* sign, void* w) {
  dispatch_floating(dt, "deepshift_ps_forward", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    deepshift_ps_forward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        n, static_cast<T>(lo), static_cast<T*>(shift), static_cast<const T*>(sign), static_cast<T*>(w));
    SL_CUDA_CHECK_LAUNCH();
  });
}

void deepshift_ps_backward(DType dt, int64_t n, const void* shift, const void* sign, const void* g, void* gshift) {
  dispatch_floating(dt, "deepshift_ps_backward", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    deepshift_ps_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        n, static_cast<const T*>(shift), static_cast<const T*>(sign), static_cast<const T*>(g), static_cast<T*>(gshift));
    SL_CUDA_CHECK_LAUNCH();
  });
}

void deepshift_q_forward(DType dt, int64_t n, double lo, double hi, void* w, void* wq) {
  dispatch_floating(dt, "deepshift_q_forward", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    deepshift_q_forward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        n, static_cast<T>(lo), static_cast<T>(hi), static_cast<T*>(w), static_cast<T*>(wq));
    SL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_quant(Backend& b) {
  b.nearest_level = nearest_level;
  b.apot_quantize = apot_quantize;
  b.apot_backward = apot_backward;
  b.s3_forward = s3_forward;
  b.s3_backward = s3_backward;
  b.denseshift_forward = denseshift_forward;
  b.denseshift_backward = denseshift_backward;
  b.round_to_fixed = round_to_fixed;
  b.deepshift_ps_forward = deepshift_ps_forward;
  b.deepshift_ps_backward = deepshift_ps_backward;
  b.deepshift_q_forward = deepshift_q_forward;
}

}  // namespace sl::cuda
