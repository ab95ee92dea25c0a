// matmul and linear, conv2d, shift2d and shift_conv2d. The conv shapes reach every CPU path: the
// stride-1 implicit GEMM, the stride-2 polyphase implicit GEMM (odd and even kernels, dilation,
// padding), im2col for 1x1 stride-2 and grouped convs, the flipped-kernel and the GEMM + col2im input
// gradients ("full" 5x5 on small planes), depthwise; batch 1; channel counts and widths that leave
// a tail after every register tile (16 lanes and less).
#include <fmt/format.h>

#include "opcases/builders.h"

namespace sl::opcases {

namespace {

void add_matmul(std::vector<OpCase>& out) {
  auto mm = plain([](const TensorList& t) { return matmul(t[0], t[1]); });
  out.push_back(op_case("matmul", "matmul 2-d", {in({3, 4}), in({4, 5})}, mm));
  out.push_back(op_case("matmul", "matmul batched", {in({2, 3, 4}), in({2, 4, 5})}, mm));
  out.push_back(op_case("matmul", "matmul shared right side", {in({2, 3, 4}), in({4, 5})}, mm));
  out.push_back(op_case("matmul", "matmul shared left side", {in({3, 4}), in({2, 4, 5})}, mm));
  out.push_back(op_case("matmul", "matmul tile tails", {in({37, 64}), in({64, 29})}, mm));
  out.push_back(op_case("matmul", "matmul row by column", {in({1, 300}), in({300, 1})}, mm));
  auto lin = plain([](const TensorList& t) { return linear(t[0], t[1], t.size() > 2 ? t[2] : Tensor()); });
  out.push_back(op_case("linear", "linear with bias", {in({6, 4}), in({3, 4}), in({3})}, lin));
  out.push_back(op_case("linear", "linear 3-d input", {in({2, 3, 4}), in({3, 4})}, lin));
  out.push_back(op_case("linear", "linear tile tails", {in({8, 2, 50}), in({20, 50}), in({20})}, lin));
}

struct Conv {
  int64_t n, cin, h, w, cout, kh, kw, stride, pad, dil, groups;
  bool bias;
};

void add_conv(std::vector<OpCase>& out, const Conv& c) {
  std::string name = fmt::format("conv2d n{} c{}->{} {}x{} {}x{} stride {} pad {} dilation {} groups {}{}", c.n, c.cin,
                                 c.cout, c.h, c.w, c.kh, c.kw, c.stride, c.pad, c.dil, c.groups, c.bias ? " bias" : "");
  std::vector<Input> inputs = {in({c.n, c.cin, c.h, c.w}), in({c.cout, c.cin / c.groups, c.kh, c.kw})};
  if (c.bias) inputs.push_back(in({c.cout}));
  Conv2dArgs a;
  a.stride = {c.stride, c.stride};
  a.padding = {c.pad, c.pad};
  a.dilation = {c.dil, c.dil};
  a.groups = c.groups;
  OpCase oc = op_case("conv2d", name, std::move(inputs), plain([a](const TensorList& t) {
                        return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), a);
                      }));
  // Long f32 sums (up to 500 products per output, 1000+ per weight gradient) against f64.
  oc.f32_tol = 2e-4;
  out.push_back(std::move(oc));
}

void add_convs(std::vector<OpCase>& out) {
  for (const Conv& c : std::vector<Conv>{
           // n  cin  h   w  cout kh kw s  p  d  g  bias
           {2, 2, 6, 5, 3, 3, 3, 1, 1, 1, 1, true},      // stride-1 implicit GEMM
           {2, 2, 6, 5, 4, 3, 3, 2, 1, 1, 1, false},     // stride-2 polyphase
           {2, 3, 6, 5, 2, 2, 2, 1, 0, 2, 1, true},      // dilation, even kernel
           {2, 4, 6, 5, 6, 3, 3, 1, 1, 1, 2, false},     // groups
           {2, 4, 6, 5, 4, 3, 3, 2, 1, 1, 4, true},      // depthwise stride 2
           {2, 3, 6, 5, 5, 1, 1, 1, 0, 1, 1, true},      // 1x1: a plain GEMM
           {2, 2, 6, 5, 3, 1, 1, 2, 0, 1, 1, false},     // 1x1 stride 2: im2col's quarter gather
           {2, 3, 10, 7, 4, 2, 4, 1, 0, 1, 1, true},     // non-square kernel
           {2, 3, 4, 4, 4, 5, 5, 1, 2, 1, 1, false},     // "full" 5x5 on a small plane: GEMM + col2im
           {3, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1, false},     // width 8: one lane tile, tails in rows
           {9, 8, 5, 5, 16, 5, 5, 1, 2, 1, 1, false},    // 9 images, 16 output channels
           {1, 16, 12, 12, 8, 3, 3, 2, 1, 1, 1, false},  // batch 1, polyphase
           {1, 5, 13, 11, 7, 7, 7, 2, 3, 1, 1, false},   // 7x7 stride 2 on odd planes
           {1, 3, 17, 19, 9, 7, 7, 1, 3, 1, 1, true},    // wide tails (19 columns)
           {2, 7, 6, 21, 33, 1, 1, 2, 0, 1, 1, false},   // 33 output channels: a full tile plus one
           {3, 5, 11, 10, 17, 5, 5, 2, 2, 1, 1, false},  // 5x5 stride 2
           {1, 20, 12, 12, 50, 5, 5, 1, 0, 1, 1, false}, // 500-long dot products
           {2, 9, 15, 15, 70, 3, 3, 1, 1, 1, 1, true},   // 70 = 4 tiles of 16 + 6
           {2, 3, 11, 12, 5, 3, 3, 2, 2, 2, 1, false},   // stride 2 with dilation 2
           {2, 4, 8, 8, 6, 4, 4, 2, 1, 1, 1, false},     // even kernel stride 2
           {1, 6, 9, 10, 4, 2, 2, 2, 0, 1, 2, false},    // grouped even kernel stride 2
           {2, 8, 7, 7, 6, 1, 1, 1, 0, 1, 2, false},     // grouped 1x1
           {2, 4, 12, 12, 4, 3, 3, 1, 2, 2, 2, true},    // dilation 2 with groups
           {2, 4, 9, 9, 8, 5, 5, 2, 2, 1, 4, true},      // depthwise with 2 filters per channel, 5x5 stride 2
           {1, 1, 28, 28, 20, 5, 5, 1, 0, 1, 1, true},   // MNIST's first conv: one input channel
       })
    add_conv(out, c);
}

void add_shifts(std::vector<OpCase>& out) {
  struct Shift {
    int64_t n, c, h, w, kernel, dilation;
  };
  // Channel counts that are and are not multiples of kernel^2 (the rest stay unshifted).
  for (Shift s : std::vector<Shift>{{2, 9, 5, 4, 3, 1}, {2, 20, 7, 6, 3, 1}, {2, 18, 7, 6, 3, 2}, {1, 25, 6, 6, 5, 1}}) {
    out.push_back(moves_values(op_case("shift2d", fmt::format("shift2d n{} c{} {}x{} kernel {} dilation {}", s.n, s.c, s.h, s.w,
                                                 s.kernel, s.dilation),
                          {in({s.n, s.c, s.h, s.w})}, plain([s](const TensorList& t) {
                            return shift2d(t[0], s.kernel, s.dilation);
                          }))));
  }
  struct ShiftConv {
    int64_t n, cin, h, w, cout, kernel, dilation, stride;
  };
  for (ShiftConv s : std::vector<ShiftConv>{{2, 9, 6, 5, 4, 3, 1, 1},
                                            {2, 20, 7, 6, 8, 3, 1, 2},
                                            {1, 25, 9, 9, 6, 5, 1, 1},
                                            {2, 18, 7, 7, 5, 3, 2, 1},
                                            {2, 32, 8, 8, 17, 3, 1, 1}}) {
    out.push_back(op_case("shift_conv2d",
                          fmt::format("shift_conv2d n{} c{}->{} {}x{} kernel {} dilation {} stride {}", s.n, s.cin,
                                      s.cout, s.h, s.w, s.kernel, s.dilation, s.stride),
                          {in({s.n, s.cin, s.h, s.w}), in({s.cout, s.cin, 1, 1})}, plain([s](const TensorList& t) {
                            return shift_conv2d(t[0], t[1], s.kernel, s.dilation, s.stride);
                          })));
  }
}

}  // namespace

void add_matmul_conv_cases(std::vector<OpCase>& out) {
  add_matmul(out);
  add_convs(out);
  add_shifts(out);
}

}  // namespace sl::opcases
