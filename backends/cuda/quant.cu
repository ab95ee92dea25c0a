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
__global__ void nearest_kernel(const T* x, int64_t n, const T* levels, const int32_t* rank, int64_t nlev, T* value,
                               int32_t* index) {
  SL_CUDA_LOOP(i, n) {
    T v = x[i];
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

void nearest_level(DType dt, const void* x, int64_t n, const double* levels, const int32_t* rank, int64_t nlev,
                   void* value, int32_t* index) {
  SL_CHECK(nlev > 0, "nearest_level: empty level set");
  dispatch_floating(dt, "nearest_level", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    const char* table = static_cast<const char*>(device_table(dt, levels, rank, nlev));
    const T* lev = reinterpret_cast<const T*>(table);
    const auto* rk = reinterpret_cast<const int32_t*>(table + ranks_offset(static_cast<size_t>(nlev), sizeof(T)));
    nearest_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const T*>(x), n, lev, rk, nlev,
                                                                static_cast<T*>(value), index);
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
  b.round_to_fixed = round_to_fixed;
  b.deepshift_ps_forward = deepshift_ps_forward;
  b.deepshift_ps_backward = deepshift_ps_backward;
  b.deepshift_q_forward = deepshift_q_forward;
}

}  // namespace sl::cuda
