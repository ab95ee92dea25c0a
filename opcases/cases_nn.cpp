// Pooling, batch norm (and its fused ReLU and shortcut + ReLU, and standardize), softmax and cross-entropy.
#include <fmt/format.h>

#include "opcases/builders.h"

namespace sl::opcases {

namespace {

void add_pools(std::vector<OpCase>& out) {
  const Shape x{2, 3, 6, 7};
  auto pool = [](int64_t k, int64_t s, int64_t p, bool include_pad) {
    return Pool2dArgs{{k, k}, {s, s}, {p, p}, include_pad};
  };
  for (Pool2dArgs a : {pool(2, 2, 0, true), pool(3, 2, 1, true), pool(3, 1, 1, true)}) {
    out.push_back(moves_values(op_case("max_pool2d", fmt::format("max_pool2d {}x{} stride {} pad {}", a.kernel[0], a.kernel[1],
                                                    a.stride[0], a.padding[0]),
                          {in(x)}, plain([a](const TensorList& t) { return max_pool2d(t[0], a); }))));
  }
  for (Pool2dArgs a : {pool(3, 2, 1, true), pool(3, 2, 1, false), pool(5, 3, 2, true)}) {
    out.push_back(op_case("avg_pool2d", fmt::format("avg_pool2d {}x{} stride {} pad {}{}", a.kernel[0], a.kernel[1],
                                                    a.stride[0], a.padding[0],
                                                    a.count_include_pad ? "" : " without padding in the count"),
                          {in(x)}, plain([a](const TensorList& t) { return avg_pool2d(t[0], a); })));
  }
  for (std::array<int64_t, 2> o : {std::array<int64_t, 2>{1, 1}, {4, 3}, {5, 7}}) {
    out.push_back(op_case("adaptive_avg_pool2d", fmt::format("adaptive_avg_pool2d to {}x{}", o[0], o[1]), {in(x)},
                          plain([o](const TensorList& t) { return adaptive_avg_pool2d(t[0], o); })));
  }
}

void add_batch_norms(std::vector<OpCase>& out) {
  // Running statistics are inputs without a gradient; training mode updates a copy of them.
  auto bn = [](bool training, bool fused) {
    return plain([training, fused](const TensorList& t) {
      Tensor rm = t.size() > 3 ? t[3].detach().clone() : Tensor(), rv = t.size() > 4 ? t[4].detach().clone() : Tensor();
      Tensor g = t.size() > 1 ? t[1] : Tensor(), b = t.size() > 2 ? t[2] : Tensor();
      return fused ? batch_norm_relu(t[0], g, b, rm, rv, training) : batch_norm(t[0], g, b, rm, rv, training);
    });
  };
  const Shape x{3, 2, 3, 2};
  std::vector<Input> affine = {in(x), in({2}, 0.5, 1.5), in({2})};
  std::vector<Input> with_stats = {in(x), in({2}, 0.5, 1.5), in({2}), fixed({2}), fixed({2}, 0.5, 2)};
  out.push_back(op_case("batch_norm", "batch_norm training with running statistics", with_stats, bn(true, false)));
  out.push_back(op_case("batch_norm", "batch_norm training 2-d", {in({5, 3}), in({3}, 0.5, 1.5), in({3})}, bn(true, false)));
  out.push_back(op_case("batch_norm", "batch_norm evaluation", with_stats, bn(false, false)));
  out.push_back(op_case("batch_norm", "batch_norm without affine", {in(x)}, bn(true, false)));
  // Planes of 40 and 4067 values: the CPU's 16-lane sums with their tails, channel blocks.
  out.push_back(op_case("batch_norm", "batch_norm long planes", {in({4, 6, 5, 8}, -2, 3), in({6}, 0.5, 1.5), in({6})},
                        bn(true, false)));
  out.push_back(op_case("batch_norm", "batch_norm large planes", {in({2, 3, 49, 83}, -2, 3), in({3}, 0.5, 1.5), in({3})},
                        bn(true, false)));
  // One channel, fewer than the threads: the CPU splits its planes over them.
  out.push_back(op_case("batch_norm", "batch_norm one channel", {in({8, 1, 6, 7}, -2, 3), in({1}, 0.5, 1.5), in({1})},
                        bn(true, false)));
  out.push_back(op_case("batch_norm_relu", "batch_norm_relu one channel",
                        {in({8, 1, 6, 7}, -2, 3), in({1}, 0.5, 1.5), in({1})}, bn(true, true)));
  out.push_back(op_case("batch_norm_relu", "batch_norm_relu training", affine, bn(true, true)));
  out.push_back(op_case("batch_norm_relu", "batch_norm_relu long planes",
                        {in({4, 6, 5, 8}, -2, 3), in({6}, 0.5, 1.5), in({6})}, bn(true, true)));
  out.push_back(op_case("batch_norm_relu", "batch_norm_relu evaluation", with_stats, bn(false, true)));
  // relu(batch_norm(x) + r): the shortcut (last input) gets ReLU's masked gradient.
  auto bn_add = [](bool training) {
    return plain([training](const TensorList& t) {
      Tensor rm = t[3].detach().clone(), rv = t[4].detach().clone();
      return batch_norm_add_relu(t[0], t[5], t[1], t[2], rm, rv, training);
    });
  };
  std::vector<Input> with_shortcut = with_stats;
  with_shortcut.push_back(in(x));
  out.push_back(op_case("batch_norm_add_relu", "batch_norm_add_relu training", with_shortcut, bn_add(true)));
  out.push_back(op_case("batch_norm_add_relu", "batch_norm_add_relu evaluation", with_shortcut, bn_add(false)));
  out.push_back(op_case("batch_norm_add_relu", "batch_norm_add_relu long planes",
                        {in({4, 6, 5, 8}, -2, 3), in({6}, 0.5, 1.5), in({6}), fixed({6}), fixed({6}, 0.5, 2),
                         in({4, 6, 5, 8}, -2, 2)},
                        bn_add(true)));
  out.push_back(op_case("standardize", "standardize", {in({6, 3, 3, 3})},
                        plain([](const TensorList& t) { return standardize(t[0]); })));
  // 10240 values: 4 chunks of 2560, one channel's planes (split over the CPU's threads).
  out.push_back(op_case("standardize", "standardize in chunks", {in({20, 512}, -2, 3)},
                        plain([](const TensorList& t) { return standardize(t[0]); })));
}

void add_softmax(std::vector<OpCase>& out) {
  out.push_back(op_case("softmax", "softmax inner dim", {in({3, 4, 2})},
                        plain([](const TensorList& t) { return softmax(t[0], 1); })));
  out.push_back(op_case("softmax", "softmax long rows", {in({3, 1000}, -5, 5)},
                        plain([](const TensorList& t) { return softmax(t[0], 1); })));
  out.push_back(op_case("log_softmax", "log_softmax last dim", {in({3, 4, 2})},
                        plain([](const TensorList& t) { return log_softmax(t[0], -1); })));
  out.push_back(op_case("log_softmax", "log_softmax first dim", {in({4, 5, 6}, -5, 5)},
                        plain([](const TensorList& t) { return log_softmax(t[0], 0); })));
  out.push_back(op_case("cross_entropy", "cross_entropy", {in({5, 4}, -2, 2), labels({5}, 4)},
                        plain([](const TensorList& t) { return cross_entropy(t[0], t[1]); })));
  out.push_back(op_case("cross_entropy", "cross_entropy label smoothing", {in({30, 7}, -4, 4), labels({30}, 7)},
                        plain([](const TensorList& t) { return cross_entropy(t[0], t[1], 0.1); })));
}

}  // namespace

void add_nn_cases(std::vector<OpCase>& out) {
  add_pools(out);
  add_batch_norms(out);
  add_softmax(out);
}

}  // namespace sl::opcases
