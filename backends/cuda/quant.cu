// Quantizer kernel: projection onto a sorted level set (the twin of backends/cpu/quant.cpp; APoT,
// uniform and any table-driven family). The other quantizer formulas (DeepShift's power-of-two and
// fixed-point rounding, S3 and DenseShift reconstruction) are compositions of element-wise ops and
// need no kernel of their own.
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

}  // namespace

void register_quant(Backend& b) { b.nearest_level = nearest_level; }

}  // namespace sl::cuda
