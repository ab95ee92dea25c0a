// Transforms: exact to-tensor/normalize arithmetic, the crop/flip/resize rules of torchvision,
// and reproducible per-sample randomness.
#include <algorithm>
#include <cmath>
#include <set>

#include "data/transforms.h"
#include "data_fixtures.h"
#include "engine/npy.h"
#include "engine/rng.h"
#include "helpers.h"

using namespace sl;
using namespace sl::data;
using sl::test::error_of;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Pixels from Philox, so no two windows of the image look alike.
Image random_image(int h, int w, int c, uint64_t seed) {
  Image img(h, w, c);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(philox(seed, i)[0]);
  return img;
}
// The source image of test/data/golden/pil/make_golden.py.
Image pil_source(int h, int w) {
  Image img(h, w, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.ptr(y, x)[c] = static_cast<uint8_t>((y * y * 3 + x * 7 + c * 50 + (x * y) % 13) % 256);
  return img;
}

std::vector<uint8_t> golden(const std::string& name) {
  return load_npy(std::string(SHIFTLAB_TEST_DATA) + "/golden/pil/" + name).to_vector<uint8_t>();
}
}  // namespace

TEST_CASE("transforms: bilinear resize is bit-identical to Pillow's", "[data][transforms]") {
  Image src = pil_source(37, 53);
  for (auto [h, w] : std::vector<std::array<int, 2>>{{20, 30}, {80, 61}, {17, 100}, {37, 26}, {9, 53}, {1, 1}}) {
    INFO(h << "x" << w);
    Image out = data::resize(src, h, w);
    CHECK(out.pixels == golden(fmt::format("resize_37x53_to_{}x{}.npy", h, w)));
  }
  Image big = pil_source(100, 150);
  CHECK(resize_region(big, 13, 27, 61, 88, 24, 24).pixels == golden("crop_100x150_13_27_61x88_to_24x24.npy"));
  // Ratios that make stb_image_resize 0.97 abort (nothings/stb#1449) are fine here.
  Image huge(2000, 2000, 1);
  CHECK(data::resize(huge, 1304, 1304).height == 1304);
}

TEST_CASE("transforms: to_tensor scales to [0, 1] and normalize matches torchvision's f32 arithmetic",
          "[data][transforms]") {
  Image img(1, 3, 1);
  img.pixels = {0, 51, 255};
  std::vector<float> out(3);
  Compose().to_tensor(img, out.data());
  CHECK(out == std::vector<float>{0.0f, 0.2f, 1.0f});

  Image rgb(2, 2, 3);
  for (size_t i = 0; i < rgb.pixels.size(); ++i) rgb.pixels[i] = static_cast<uint8_t>(i * 20);
  std::vector<float> mean = {0.4914f, 0.4822f, 0.4465f}, std = {0.2023f, 0.1994f, 0.2010f};
  Compose t;
  t.normalize(mean, std);
  SampleRng rng(0, 0, 0);
  Tensor x = t(rgb, rng);
  REQUIRE(x.shape() == Shape{3, 2, 2});
  std::vector<float> v = x.to_vector<float>();
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 4; ++p) {
      float px = static_cast<float>(rgb.pixels[static_cast<size_t>(p * 3 + c)]);
      CHECK(v[static_cast<size_t>(c * 4 + p)] == (px / 255.0f - mean[static_cast<size_t>(c)]) / std[static_cast<size_t>(c)]);
    }
  // One mean/std serves every channel; a count that fits neither is an error.
  Compose grey;
  grey.normalize({0.5f}, {0.25f});
  std::vector<float> all(12);
  grey.to_tensor(rgb, all.data());
  CHECK(all[0] == (0.0f - 0.5f) / 0.25f);
  CHECK(all[4] == (20.0f / 255.0f - 0.5f) / 0.25f);  // channel 1 of pixel 0
  std::vector<float> big(4);
  Image one(2, 2, 1);
  CHECK(contains(error_of([&] { t.to_tensor(one, big.data()); }), "Normalize has 3 channel values but the image has 1"));
  CHECK(contains(error_of([] { Compose().normalize({0.1f, 0.2f}, {0.3f}); }), "2 means but 1 stds"));
  CHECK(contains(error_of([] { Compose().normalize({0.1f}, {0.0f}); }), "must be positive"));
}

TEST_CASE("transforms: random crop with padding is a uniformly placed window of the zero-padded image",
          "[data][transforms]") {
  Image img = random_image(32, 32, 3, 7);
  Image padded = crop(img, -4, -4, 40, 40);
  CHECK(padded.at(0, 0, 0) == 0);
  CHECK(padded.at(4, 4, 1) == img.at(0, 0, 1));
  ImageTransformPtr rc = random_crop(32, 4);
  std::vector<int> seen(81, 0);
  for (int i = 0; i < 2000; ++i) {
    SampleRng rng(1, 0, i);
    Image out = rc->apply(img, rng);
    REQUIRE(out.height == 32);
    int matches = 0;
    for (int top = 0; top <= 8; ++top)
      for (int left = 0; left <= 8; ++left)
        if (out.pixels == crop(padded, top, left, 32, 32).pixels) {
          ++matches;
          ++seen[static_cast<size_t>(top * 9 + left)];
        }
    REQUIRE(matches == 1);
  }
  for (int count : seen) CHECK(count > 5);  // every offset in [0, 8] x [0, 8] occurs
  SampleRng rng(0, 0, 0);
  CHECK(contains(error_of([&] { random_crop(32, 0)->apply(Image(28, 28, 1), rng); }),
                 "RandomCrop(32, padding=0): the padded image 28x28 is smaller than the crop"));
  CHECK(random_crop(28, 2)->name() == "RandomCrop(28, padding=2)");
}

TEST_CASE("transforms: horizontal flip mirrors with probability p", "[data][transforms]") {
  Image img = random_image(3, 5, 3, 1);
  Image mirrored = img;
  flip_horizontal(mirrored);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x)
      for (int c = 0; c < 3; ++c) CHECK(mirrored.at(y, x, c) == img.at(y, 4 - x, c));
  int flipped = 0;
  for (int i = 0; i < 1000; ++i) {
    SampleRng a(3, 1, i), b(3, 1, i), c(3, 1, i);
    CHECK(random_horizontal_flip(1.0)->apply(img, a).pixels == mirrored.pixels);
    CHECK(random_horizontal_flip(0.0)->apply(img, b).pixels == img.pixels);
    flipped += random_horizontal_flip(0.5)->apply(img, c).pixels == mirrored.pixels;
  }
  CHECK(flipped > 430);
  CHECK(flipped < 570);
}

TEST_CASE("transforms: random resized crop follows torchvision's get_params", "[data][transforms]") {
  std::set<int> widths;
  for (int i = 0; i < 500; ++i) {
    SampleRng rng(5, 0, i);
    CropBox b = random_resized_crop_box(300, 400, 0.08, 1.0, 3.0 / 4, 4.0 / 3, rng);
    REQUIRE(b.top >= 0);
    REQUIRE(b.left >= 0);
    REQUIRE(b.top + b.height <= 300);
    REQUIRE(b.left + b.width <= 400);
    double area = static_cast<double>(b.height) * b.width / (300.0 * 400.0);
    double ratio = static_cast<double>(b.width) / b.height;
    if (!(b.height == 300 && b.width == 400)) {  // not the fallback
      CHECK(area > 0.07);
      CHECK(area < 1.01);
      CHECK(ratio > 0.74);
      CHECK(ratio < 1.35);
    }
    widths.insert(b.width);
  }
  CHECK(widths.size() > 100);  // boxes really vary
  // A 10x1000 strip: no attempt fits, so the fallback takes the central crop at ratio 4/3 (13x10).
  SampleRng rng(0, 0, 0);
  CropBox b = random_resized_crop_box(10, 1000, 0.08, 1.0, 3.0 / 4, 4.0 / 3, rng);
  CHECK(b.top == 0);
  CHECK(b.height == 10);
  CHECK(b.width == 13);
  CHECK(b.left == (1000 - 13) / 2);
  // ... and the transform resizes the box to size x size.
  Image out = random_resized_crop(224)->apply(random_image(100, 150, 3, 2), rng);
  CHECK(out.height == 224);
  CHECK(out.width == 224);
  CHECK(out.channels == 3);
}

TEST_CASE("transforms: resize (shorter side) and center crop use torchvision's sizes and offsets",
          "[data][transforms]") {
  CHECK(resized_shorter_side(200, 300, 256) == std::array<int, 2>{256, 384});
  CHECK(resized_shorter_side(300, 200, 256) == std::array<int, 2>{384, 256});
  CHECK(resized_shorter_side(256, 230, 256) == std::array<int, 2>{284, 256});  // int(256 * 256 / 230)
  CHECK(resized_shorter_side(375, 500, 256) == std::array<int, 2>{256, 341});  // int(341.33)
  // Python's round((dim - size) / 2): halves to even.
  CropBox b = center_crop_box(256, 300, 224);
  CHECK(b.top == 16);
  CHECK(b.left == 38);
  CHECK(center_crop_box(225, 225, 224).top == 0);  // round(0.5) = 0
  CHECK(center_crop_box(227, 227, 224).top == 2);  // round(1.5) = 2
  CHECK(center_crop_box(100, 300, 224).top == -62);  // padded: 62 zero rows on top, 62 below

  SampleRng rng(0, 0, 0);
  Image grey(300, 200, 3);
  std::fill(grey.pixels.begin(), grey.pixels.end(), 77);
  Image r = resize(256)->apply(grey, rng);
  CHECK(r.height == 384);
  CHECK(r.width == 256);
  CHECK(std::all_of(r.pixels.begin(), r.pixels.end(), [](uint8_t v) { return v == 77; }));  // flat stays flat
  Image c = center_crop(224)->apply(r, rng);
  CHECK(c.height == 224);
  CHECK(c.width == 224);
  Image img = random_image(10, 12, 3, 4);
  Image cc = center_crop(6)->apply(img, rng);
  CHECK(cc.pixels == crop(img, 2, 3, 6, 6).pixels);
  Image small = center_crop(6)->apply(random_image(3, 4, 1, 1), rng);
  CHECK(small.height == 6);
  CHECK(small.at(0, 0, 0) == 0);  // zero padding
  // Bilinear upsampling of a ramp stays monotonic and within its end values.
  Image ramp(1, 4, 1);
  ramp.pixels = {0, 80, 160, 240};
  Image up = data::resize(ramp, 1, 8);
  for (int x = 1; x < 8; ++x) CHECK(up.at(0, x, 0) >= up.at(0, x - 1, 0));
  CHECK(up.at(0, 0, 0) <= 10);
  CHECK(up.at(0, 7, 0) >= 230);
}

TEST_CASE("transforms: randomness is a function of (seed, epoch, index)", "[data][transforms]") {
  Compose t;
  t.add(random_resized_crop(24)).add(random_horizontal_flip()).normalize({0.5f}, {0.5f});
  Image img = random_image(40, 50, 3, 9);
  auto run = [&](uint64_t seed, int64_t epoch, int64_t index) {
    SampleRng rng(seed, epoch, index);
    return t(img, rng).to_vector<float>();
  };
  CHECK(run(1, 2, 3) == run(1, 2, 3));
  CHECK(run(1, 2, 3) != run(1, 2, 4));
  CHECK(run(1, 2, 3) != run(1, 3, 3));
  CHECK(run(1, 2, 3) != run(2, 2, 3));
  SampleRng a(1, 0, 0), b(1, 0, 0);
  for (int i = 0; i < 10; ++i) CHECK(a.next_u32() == b.next_u32());
  CHECK(t.describe() ==
        "RandomResizedCrop(24, scale=(0.08, 1), ratio=(0.75, 1.333), bilinear), RandomHorizontalFlip(p=0.5), "
        "ToTensor, Normalize(mean=[0.5], std=[0.5])");
}
