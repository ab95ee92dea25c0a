// Shift2d: channel-to-offset table, forward and adjoint against ShiftResNet's kernel (golden),
// hand-checked borders and bad options (the gradcheck: opcases/).
#include "backends/params.h"
#include "engine/npy.h"
#include "helpers.h"

using namespace sl;
using sl::test::check_values;
using sl::test::golden_path;

TEST_CASE("shift2d matches the original CUDA kernel's offsets, forward and backward", "[shift]") {
  struct Case {
    std::string tag;
    int64_t k, d;
  };
  for (const Case& c : std::vector<Case>{{"k3d1", 3, 1}, {"k5d1", 5, 1}, {"k3d2", 3, 2}}) {
    INFO(c.tag);
    auto g = [&](const std::string& what) {
      return load_npy(golden_path("deepshift/shift_" + c.tag + "_" + what + ".npy"));
    };
    Tensor x = g("x").clone();
    x.requires_grad_();
    int64_t channels = x.size(1);
    std::vector<int64_t> want = g("offsets").to_vector<int64_t>();
    for (int64_t ch = 0; ch < channels; ++ch) {
      ShiftOffset o = shift2d_offset(ch, channels, c.k, c.d);
      CHECK(o.dy == want[static_cast<size_t>(2 * ch)]);
      CHECK(o.dx == want[static_cast<size_t>(2 * ch + 1)]);
    }
    Tensor y = shift2d(x, c.k, c.d);
    check_values(y, g("y"));
    y.backward(g("gy"));
    check_values(x.grad(), g("gx"));
  }
}

TEST_CASE("shift2d by hand: channel 0 of a 3x3 shift moves content down-right, borders fill with 0", "[shift]") {
  Tensor x = arange(1, 1 + 9 * 9).reshape({1, 9, 3, 3});  // 9 channels: one per offset
  std::vector<float> y = shift2d(x).to_vector<float>();
  // Channel 0 reads (i-1, j-1): output[1][1] = input[0][0] = 1, first row and column are 0.
  CHECK(std::vector<float>(y.begin(), y.begin() + 9) == std::vector<float>{0, 0, 0, 0, 1, 2, 0, 4, 5});
  // Channel 4 is the centre: unchanged.
  CHECK(std::vector<float>(y.begin() + 36, y.begin() + 45) == std::vector<float>{37, 38, 39, 40, 41, 42, 43, 44, 45});
  // Channel 8 reads (i+1, j+1).
  CHECK(std::vector<float>(y.begin() + 72, y.end()) == std::vector<float>{77, 78, 0, 80, 81, 0, 0, 0, 0});
}

// Its gradcheck runs from the op-case table (opcases/cases_conv.cpp).
TEST_CASE("shift2d refuses bad options", "[shift]") {
  CHECK(sl::test::error_of([] { shift2d(zeros({1, 9, 4, 4}), 2); }).find("odd") != std::string::npos);
  CHECK(sl::test::error_of([] { shift2d(zeros({9, 4, 4})); }).find("4-D") != std::string::npos);
}

TEST_CASE("shift2d by hand: a 5x5 neighbourhood, the unshifted remainder and dilation", "[shift]") {
  // 26 channels of 5x5: channels 0..24 take the 25 offsets of the 5x5 window (c -> dy = c / 5 - 2,
  // dx = c % 5 - 2), channel 25 is the C mod 25 remainder and stays put.
  Tensor x = arange(1, 1 + 26 * 25).reshape({1, 26, 5, 5});
  std::vector<float> y = shift2d(x, 5).to_vector<float>();
  auto channel = [&](int64_t c) { return std::vector<float>(y.begin() + c * 25, y.begin() + (c + 1) * 25); };
  // Channel 0 reads (i - 2, j - 2): its content moves two pixels down and right.
  CHECK(channel(0) == std::vector<float>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 6, 7, 8, 0, 0, 11, 12, 13});
  // Channel 7 = (dy, dx) = (-1, 0): one row down.
  CHECK(channel(7) == std::vector<float>{0,   0,   0,   0,   0,   176, 177, 178, 179, 180, 181, 182, 183,
                                         184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195});
  // Channel 24 = (+2, +2): reads two pixels up-left of the bottom-right corner; zeros fill the rest.
  CHECK(channel(24) == std::vector<float>{613, 614, 615, 0, 0, 618, 619, 620, 0, 0, 623, 624, 625,
                                          0,   0,   0,   0, 0, 0,   0,   0,   0, 0, 0,   0});
  std::vector<float> centre(25), rest(25);
  for (int i = 0; i < 25; ++i) {
    centre[static_cast<size_t>(i)] = static_cast<float>(12 * 25 + 1 + i);
    rest[static_cast<size_t>(i)] = static_cast<float>(25 * 25 + 1 + i);
  }
  CHECK(channel(12) == centre);  // the window's centre
  CHECK(channel(25) == rest);    // 26 mod 25 = 1 channel unshifted

  // kernel 3, dilation 2: channel 0 reads (i - 2, j - 2) as the 5x5 kernel's channel 0 does.
  Tensor x9 = arange(1, 1 + 9 * 25).reshape({1, 9, 5, 5});
  std::vector<float> y9 = shift2d(x9, 3, 2).to_vector<float>();
  CHECK(std::vector<float>(y9.begin(), y9.begin() + 25) == std::vector<float>(y.begin(), y.begin() + 25));
  // An offset as large as the image (kernel 3, dilation 2 on 2x2) leaves only zeros, except the
  // centre channel; the adjoint does the same to the gradient.
  Tensor small = ones({1, 9, 2, 2});
  small.requires_grad_();
  Tensor ys = shift2d(small, 3, 2);
  CHECK(sum(ys).item() == 4.0f);
  sum(ys).backward();
  std::vector<float> g = small.grad().to_vector<float>();
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == (i / 4 == 4 ? 1.0f : 0.0f));
}
