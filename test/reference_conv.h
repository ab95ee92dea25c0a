// conv2d by its definition, in double: the reference the conv kernels are tested against; and the
// kernels' side of the comparison, run through autograd.
#pragma once
#include <cstdint>
#include <vector>

#include "helpers.h"

namespace sl::test {

struct ConvCase {
  int64_t n, cin, h, w, cout, k, stride, pad, dil, groups;
};

// y[n,o,i,j] = b[o] + sum_{c,ki,kj} x[n, g*cin_g + c, i*s - p + ki*d, j*s - p + kj*d] * w[o, c, ki, kj]
inline void conv_reference(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                    const std::vector<float>& gy, int64_t ho, int64_t wo, std::vector<double>& y,
                    std::vector<double>& gx, std::vector<double>& gw) {
  int64_t cin_g = c.cin / c.groups, cout_g = c.cout / c.groups;
  y.assign(static_cast<size_t>(c.n * c.cout * ho * wo), 0);
  gx.assign(x.size(), 0);
  gw.assign(w.size(), 0);
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t o = 0; o < c.cout; ++o)
      for (int64_t i = 0; i < ho; ++i)
        for (int64_t j = 0; j < wo; ++j) {
          size_t yi = static_cast<size_t>(((n * c.cout + o) * ho + i) * wo + j);
          int64_t grp = o / cout_g;
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t ki = 0; ki < c.k; ++ki)
              for (int64_t kj = 0; kj < c.k; ++kj) {
                int64_t ih = i * c.stride - c.pad + ki * c.dil, iw = j * c.stride - c.pad + kj * c.dil;
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                size_t xi = static_cast<size_t>(((n * c.cin + grp * cin_g + ci) * c.h + ih) * c.w + iw);
                size_t wi = static_cast<size_t>(((o * cin_g + ci) * c.k + ki) * c.k + kj);
                y[yi] += static_cast<double>(x[xi]) * w[wi];
                gx[xi] += static_cast<double>(gy[yi]) * w[wi];
                gw[wi] += static_cast<double>(gy[yi]) * x[xi];
              }
        }
}

// The output size along an input side of `in` pixels.
inline int64_t conv_out_size(const ConvCase& c, int64_t in) {
  return (in + 2 * c.pad - c.dil * (c.k - 1) - 1) / c.stride + 1;
}

// conv2d forward and both gradients through autograd (the CPU backend's kernels), with x, w and gy
// drawn by randf with seeds 1, 2 and 3.
struct ConvRun {
  std::vector<float> y, gx, gw;
};

inline ConvRun run_conv(const ConvCase& c) {
  Tensor x = randf({c.n, c.cin, c.h, c.w}, 1);
  Tensor w = randf({c.cout, c.cin / c.groups, c.k, c.k}, 2);
  x.requires_grad_();
  w.requires_grad_();
  Conv2dArgs a;
  a.stride = {c.stride, c.stride};
  a.padding = {c.pad, c.pad};
  a.dilation = {c.dil, c.dil};
  a.groups = c.groups;
  Tensor y = conv2d(x, w, Tensor(), a);
  Tensor gy = randf(y.shape(), 3);
  y.backward(gy);
  return {y.detach().to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>()};
}

}  // namespace sl::test
