// Shift2d: channel-to-offset table, forward and adjoint against ShiftResNet's kernel (golden),
// hand-checked borders, gradcheck and bad options.
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
    auto g = [&](const std::string& what) { return load_npy(golden_path("deepshift/shift_" + c.tag + "_" + what + ".npy")); };
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

TEST_CASE("shift2d gradcheck and bad options", "[shift][gradcheck]") {
  Tensor x = sl::test::param64({2, 11, 4, 5}, 9);
  sl::test::check_grad([](const TensorList& t) { return shift2d(t[0], 3, 1); }, {x});
  sl::test::check_grad([](const TensorList& t) { return shift2d(t[0], 5, 1); }, {x});
  sl::test::check_grad([](const TensorList& t) { return shift2d(t[0], 3, 2); }, {x});
  CHECK(sl::test::error_of([] { shift2d(zeros({1, 9, 4, 4}), 2); }).find("odd") != std::string::npos);
  CHECK(sl::test::error_of([] { shift2d(zeros({9, 4, 4})); }).find("4-D") != std::string::npos);
}
