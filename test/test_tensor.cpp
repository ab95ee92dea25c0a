// Tensor handle, factories, views, copies, printing and the counter-based RNG.
#include <cmath>

#include "engine/threads.h"
#include "helpers.h"

using namespace sl;
using sl::test::error_of;

TEST_CASE("factories fill shape, dtype and values", "[tensor]") {
  Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dtype() == DType::f32);
  CHECK(z.device() == Device::cpu);
  for (float v : z.to_vector<float>()) CHECK(v == 0.0f);
  for (double v : ones({4}, DType::f64).to_vector<double>()) CHECK(v == 1.0);
  CHECK(full({2}, 7, DType::i32).to_vector<int32_t>() == std::vector<int32_t>{7, 7});
  CHECK(arange(0, 5).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4});
  CHECK(arange(1, 2, 0.25, DType::f64).to_vector<double>() == std::vector<double>{1, 1.25, 1.5, 1.75});
  Tensor v = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(v.shape() == Shape{2, 3});
  CHECK(v.data<float>()[4] == 5.0f);
  CHECK(scalar_tensor(3.5).item() == 3.5);
  CHECK(scalar_tensor(3.5).dim() == 0);
}

TEST_CASE("storage is 64-byte aligned", "[tensor]") {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t = Tensor::empty({n});
    CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0);
  }
}

TEST_CASE("reshape, flatten and dim-0 slices are views sharing storage", "[tensor]") {
  Tensor t = from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  Tensor r = t.reshape({4, -1});
  CHECK(r.shape() == Shape{4, 3});
  CHECK(r.raw_data() == t.raw_data());
  CHECK(t.flatten().shape() == Shape{12});
  Tensor s = t.slice(1, 3);
  CHECK(s.shape() == Shape{2, 4});
  CHECK(s.to_vector<float>() == std::vector<float>{4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(s.raw_data() == static_cast<float*>(t.raw_data()) + 4);
  Tensor cols = slice(t, 1, 1, 3);  // a copy
  CHECK(cols.to_vector<float>() == std::vector<float>{1, 2, 5, 6, 9, 10});
  Tensor c = clone(t);
  c.data<float>()[0] = 42;
  CHECK(t.data<float>()[0] == 0.0f);
}

TEST_CASE("cat, permute, transpose and casts", "[tensor]") {
  Tensor a = from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = from_vector<float>({5, 6}, {1, 2});
  CHECK(cat({a, b}, 0).to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  Tensor c = from_vector<float>({7, 8}, {2, 1});
  CHECK(cat({a, c}, 1).to_vector<float>() == std::vector<float>{1, 2, 7, 3, 4, 8});
  CHECK(transpose(a, 0, 1).to_vector<float>() == std::vector<float>{1, 3, 2, 4});
  Tensor x = arange(0, 24).reshape({2, 3, 4});
  Tensor p = permute(x, {2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.data<float>()[1] == 4.0f);  // p[0,0,1] = x[0,1,0]
  Tensor i = from_vector<float>({1.7f, -2.2f}).to(DType::i32);
  CHECK(i.to_vector<int32_t>() == std::vector<int32_t>{1, -2});
  CHECK(from_vector<uint8_t>({255, 0}).to(DType::f32).to_vector<float>() == std::vector<float>{255, 0});
}

TEST_CASE("printing shows values, dtype, device and shape", "[tensor]") {
  std::string s = to_string(from_vector<float>({1, 2.5f, 3, 4}, {2, 2}));
  CHECK(s == "tensor([[1, 2.5], [3, 4]], f32, cpu, shape [2, 2])");
  std::string big = to_string(arange(0, 100, 1, DType::i32));
  CHECK(big.find("...") != std::string::npos);
}

TEST_CASE("item needs exactly one element, typed access checks dtype", "[tensor]") {
  CHECK(error_of([] { zeros({2}).item(); }).find("one element") != std::string::npos);
  CHECK(error_of([] { zeros({2}).data<double>(); }).find("dtype f32") != std::string::npos);
  CHECK(error_of([] { Tensor().shape(); }).find("undefined") != std::string::npos);
}

TEST_CASE("rng: same seed, same stream, independent of the thread count", "[tensor][rng]") {
  Generator g1(7), g2(7), g3(8);
  Tensor a = rand({1000}, DType::f32, Device::cpu, 0, 1, &g1);
  Tensor b = rand({1000}, DType::f32, Device::cpu, 0, 1, &g2);
  Tensor c = rand({1000}, DType::f32, Device::cpu, 0, 1, &g3);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  CHECK(a.to_vector<float>() != c.to_vector<float>());
  // The second draw continues the stream.
  CHECK(rand({1000}, DType::f32, Device::cpu, 0, 1, &g1).to_vector<float>() != a.to_vector<float>());
  std::vector<float> one_thread;
  {
    ThreadLimit limit(1);
    Generator g(99);
    one_thread = randn({100000}, DType::f32, Device::cpu, 0, 1, &g).to_vector<float>();
  }
  Generator g(99);
  CHECK(randn({100000}, DType::f32, Device::cpu, 0, 1, &g).to_vector<float>() == one_thread);
}

TEST_CASE("rng: uniform and normal moments", "[tensor][rng]") {
  Generator g(3);
  Tensor u = rand({200000}, DType::f64, Device::cpu, -2, 4, &g);
  CHECK(mean(u).item() == Approx(1.0).margin(0.02));
  CHECK(var(u).item() == Approx(36.0 / 12.0).epsilon(0.02));
  double lo = 1e9, hi = -1e9;
  for (double v : u.to_vector<double>()) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  CHECK(lo >= -2);
  CHECK(hi < 4);
  Tensor n = randn({200000}, DType::f64, Device::cpu, 1, 3, &g);
  CHECK(mean(n).item() == Approx(1.0).margin(0.03));
  CHECK(std::sqrt(var(n).item()) == Approx(3.0).epsilon(0.01));
}
