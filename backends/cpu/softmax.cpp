// Softmax / log-softmax over the middle of [outer, extent, inner], and fused cross-entropy on
// integer labels (log-softmax + negative log-likelihood, optional label smoothing).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/softmax_entry.h"

namespace sl::cpu {

namespace {

// The typed bodies; backends/softmax_entry.h makes the table slots of them.
struct SoftmaxKernels {
  static constexpr Device device = Device::cpu;

  template <class T>
  static void forward(bool log, const T* x, ReduceDims d, T* y) {
    parallel_for(d.outer * d.inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, d.extent)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t w = b; w < e; ++w) {
                     int64_t o = w / d.inner, i = w % d.inner;
                     const T* xp = x + o * d.extent * d.inner + i;
                     T* yp = y + o * d.extent * d.inner + i;
                     T mx = -std::numeric_limits<T>::infinity();
                     for (int64_t r = 0; r < d.extent; ++r) mx = std::max(mx, xp[r * d.inner]);
                     double sum = 0;
                     for (int64_t r = 0; r < d.extent; ++r) sum += std::exp(static_cast<double>(xp[r * d.inner] - mx));
                     if (log) {
                       T lse = static_cast<T>(std::log(sum));
                       for (int64_t r = 0; r < d.extent; ++r) yp[r * d.inner] = xp[r * d.inner] - mx - lse;
                     } else {
                       for (int64_t r = 0; r < d.extent; ++r)
                         yp[r * d.inner] = static_cast<T>(std::exp(static_cast<double>(xp[r * d.inner] - mx)) / sum);
                     }
                   }
                 });
  }

  template <class T>
  static void backward(bool log, const T* y, const T* gy, ReduceDims d, T* gx) {
    parallel_for(d.outer * d.inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, d.extent)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t w = b; w < e; ++w) {
                     int64_t base = (w / d.inner) * d.extent * d.inner + w % d.inner;
                     double s = 0;
                     for (int64_t r = 0; r < d.extent; ++r) {
                       int64_t k = base + r * d.inner;
                       s += log ? gy[k] : gy[k] * y[k];
                     }
                     for (int64_t r = 0; r < d.extent; ++r) {
                       int64_t k = base + r * d.inner;
                       gx[k] = log ? static_cast<T>(gy[k] - std::exp(y[k]) * s) : static_cast<T>(y[k] * (gy[k] - s));
                     }
                   }
                 });
  }
};

// loss_i = -(1 - s) * lp[i, y_i] - (s / c) * sum_j lp[i, j]; the result is the mean over i.
int64_t cross_entropy_forward(DType dt, const void* logits, const int32_t* labels, int64_t n, int64_t c,
                              double smoothing, void* loss, void* logprobs) {
  for (int64_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= c) return i;
  dispatch_floating(dt, "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    T* lp = static_cast<T*>(logprobs);
    SoftmaxKernels::forward(true, static_cast<const T*>(logits), ReduceDims{n, c, 1}, lp);
    std::vector<double> per_row(static_cast<size_t>(n));
    parallel_for(n, 256, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const T* row = lp + i * c;
        double l = -(1.0 - smoothing) * row[labels[i]];
        if (smoothing != 0) {
          double s = 0;
          for (int64_t j = 0; j < c; ++j) s += row[j];
          l -= smoothing / static_cast<double>(c) * s;
        }
        per_row[static_cast<size_t>(i)] = l;
      }
    });
    double total = 0;
    for (double v : per_row) total += v;
    *static_cast<T*>(loss) = static_cast<T>(n > 0 ? total / static_cast<double>(n) : 0.0);
  });
  return -1;
}

void cross_entropy_backward(DType dt, const void* logprobs, const int32_t* labels, int64_t n, int64_t c,
                            double smoothing, const void* gloss, void* gx) {
  dispatch_floating(dt, "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* lp = static_cast<const T*>(logprobs);
    T* g = static_cast<T*>(gx);
    double scale = static_cast<double>(*static_cast<const T*>(gloss)) / static_cast<double>(n);
    double uniform = smoothing / static_cast<double>(c);
    parallel_for(n, 256, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        for (int64_t j = 0; j < c; ++j) {
          double target = uniform + (j == labels[i] ? 1.0 - smoothing : 0.0);
          g[i * c + j] = static_cast<T>(scale * (std::exp(static_cast<double>(lp[i * c + j])) - target));
        }
      }
    });
  });
}

}  // namespace

void register_softmax(Backend& b) {
  register_softmax_entries<SoftmaxKernels>(b, cross_entropy_forward, cross_entropy_backward);
}

}  // namespace sl::cpu
