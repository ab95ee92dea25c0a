// Parity of the basic kernels: memory, copies, fill, cast, element-wise ops, layout, reductions,
// GEMM and random fills. Rounding, comparisons, argmax and the uniform random bits must match
// exactly; arithmetic within the f32/f64 tolerances of parity.h.
#include <limits>

#include "parity.h"

#ifdef SHIFTLAB_WITH_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

using namespace sl;
using namespace sl::parity;

TEST_CASE("parity: copies round-trip, fill and cast in every dtype", "[parity][memory]") {
  Tensor x = normal({3, 1000}, 1);
  CHECK(dev(x).to(Device::cpu).to_vector<float>() == x.to_vector<float>());
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::i8, DType::u8}) {
    INFO("dtype " << dtype_name(dt));
    for (double v : {0.0, -0.0, 3.0, 100.0}) check_exact(full({7, 3}, v, dt), full({7, 3}, v, dt, device()));
    Tensor src = arange(0, 120, 1, dt);
    check_exact(src, dev(src));
    for (DType to : {DType::f32, DType::f64, DType::i32, DType::i64, DType::i8, DType::u8})
      check_exact(src.to(to), dev(src).to(to), std::string("cast to ") + dtype_name(to));
  }
  Tensor e = Tensor::empty({0, 5}, DType::f32, device());
  CHECK(e.numel() == 0);
  CHECK(dev(zeros({0})).to(Device::cpu).numel() == 0);
  check_exact(clone(x), clone(dev(x)));
  check_exact(slice(x, 0, 1, 2), slice(dev(x), 0, 1, 2));  // a view at an offset
}

#ifdef SHIFTLAB_WITH_CUDA
TEST_CASE("parity: the caching allocator reuses freed blocks", "[parity][memory]") {
  if (device() != Device::cuda) return;
  { Tensor warm = Tensor::empty({1 << 20}, DType::f32, Device::cuda); }
  cuda::AllocatorStats before = cuda::allocator_stats();
  for (int i = 0; i < 10; ++i) {
    Tensor t = Tensor::empty({1 << 20}, DType::f32, Device::cuda);
    Tensor u = Tensor::empty({(1 << 20) - 3}, DType::f32, Device::cuda);  // same size class
  }
  cuda::AllocatorStats after = cuda::allocator_stats();
  CHECK(after.device_mallocs <= before.device_mallocs + 1);
  CHECK(after.cache_hits >= before.cache_hits + 19);
  CHECK(after.in_use_bytes == before.in_use_bytes);
  cuda::empty_cache();
  CHECK(cuda::allocator_stats().cached_bytes == 0);
  Tensor again = full({100}, 1.5, DType::f32, Device::cuda);
  CHECK(again.to_vector<float>() == std::vector<float>(100, 1.5f));
  INFO(cuda::device_description());
}
#endif

TEST_CASE("parity: comparisons, max and min are exact, NaN included", "[parity][elementwise]") {
  for_each_dtype([](DType dt) {
    Tensor a = uniform({4, 1, 33}, 1, -2, 2, dt), b = uniform({5, 33}, 2, 0.5, 2, dt);
    Tensor c = uniform({2, 3, 1, 5, 1, 7}, 4, -1, 1, dt), d = uniform({3, 4, 5, 1, 7}, 5, -1, 1, dt);
    // Arithmetic and its gradients: the op-case table (test_parity_op_cases.cpp).
    for (auto f : {maximum, minimum, eq, ne, lt, le, gt, ge}) {
      check_exact(f(a, b), f(dev(a), dev(b)));
      check_exact(f(c, d), f(dev(c), dev(d)));
    }
    // NaN propagates through max/min from either side; comparisons with NaN are false.
    double nan = std::numeric_limits<double>::quiet_NaN();
    Tensor n1 = from_vector<double>({nan, 1, nan, -1}).to(dt), n2 = from_vector<double>({2, nan, nan, -3}).to(dt);
    for (auto f : {maximum, minimum, eq, ne, lt, gt}) check_exact(f(n1, n2), f(dev(n1), dev(n2)));
    check_exact(add(zeros({0, 3}, dt), zeros({3}, dt)), add(zeros({0, 3}, dt, device()), zeros({3}, dt, device())));
  });
}

TEST_CASE("parity: rounding ops, signed zeros and clamp are exact", "[parity][elementwise]") {
  for_each_dtype([](DType dt) {
    // The smooth ops and their gradients: the op-case table. Here the exact ones, ties and signed zeros.
    Tensor x = uniform({1000}, 11, -7, 7, dt);
    // Rounding is exact: half to even at .5 (0.5 -> 0, 1.5 -> 2, -2.5 -> -2).
    Tensor halves = from_vector<double>({0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999, -0.0, 3.7, -3.7}).to(dt);
    for (auto f : {round, floor, ceil, sign}) {
      check_exact(f(x), f(dev(x)));
      check_exact(f(halves), f(dev(halves)));
      check_op([f](const TensorList& t) { return f(t[0]); }, {x}, 0);  // zero gradient
    }
    check_exact(abs(from_vector<double>({-0.0}).to(dt)), abs(dev(from_vector<double>({-0.0}).to(dt))));
    check_op([](const TensorList& t) { return clamp(t[0], -1, 0.5); }, {x}, 0);
    check_op([](const TensorList& t) { return clamp(t[0], -INFINITY, 2); }, {x}, 0);
    check_exact(neg(zeros({0}, dt)), neg(zeros({0}, dt, device())));
  });
}

TEST_CASE("parity: permute, transpose, slices along inner dims, cat", "[parity][layout]") {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i8}) {
    INFO("dtype " << dtype_name(dt));
    Tensor x = arange(0, 2 * 3 * 4 * 5 * 6, 1, dt).reshape({2, 3, 4, 5, 6});
    std::vector<std::vector<int64_t>> perms = {{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {1, 0, 2, 3, 4}, {0, 2, 1, 4, 3},
                                               {2, 4, 0, 3, 1}, {0, 1, 2, 4, 3}, {3, 4, 0, 1, 2}};
    for (const auto& p : perms) check_exact(permute(x, p), permute(dev(x), p));
    check_exact(transpose(x.reshape({6, 120}), 0, 1), transpose(dev(x).reshape({6, 120}), 0, 1));
    Tensor y = arange(0, 1 * 3 * 1 * 4, 1, dt).reshape({1, 3, 1, 4});
    check_exact(permute(y, {3, 2, 1, 0}), permute(dev(y), {3, 2, 1, 0}));
    check_exact(slice(x, 1, 1, 3), slice(dev(x), 1, 1, 3));
    check_exact(slice(x, 4, 2, 5), slice(dev(x), 4, 2, 5));
    check_exact(slice(x, 0, 1, 2), slice(dev(x), 0, 1, 2));
    check_exact(cat({x, x}, 2), cat({dev(x), dev(x)}, 2));
    check_exact(cat({slice(x, 3, 0, 1), x}, 3), cat({slice(dev(x), 3, 0, 1), dev(x)}, 3));
  }
  check_op([](const TensorList& t) { return permute(t[0], {2, 0, 1}); }, {normal({3, 4, 5}, 1)}, 0);
  check_op([](const TensorList& t) { return cat({t[0], t[1]}, 1); }, {normal({3, 4}, 1), normal({3, 2}, 2)}, 0);
  check_op([](const TensorList& t) { return slice(t[0], 1, 1, 3); }, {normal({3, 4, 2}, 3)}, 0);
}

TEST_CASE("parity: sum, mean, var over every shape class", "[parity][reduce]") {
  for_each_dtype([](DType dt) {
    double tol = tol_for(dt);
    // many outputs / short rows, few outputs / long rows, strided rows, one very long row (two passes)
    std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
        {{300, 40}, {1}},    {{300, 40}, {0}},       {{4, 5000}, {1}},  {{5000, 4}, {0}},   {{7, 3, 1000}, {1}},
        {{64, 300, 3}, {1}}, {{2, 3, 4, 5}, {0, 2}}, {{300001}, {0}},   {{3, 140000}, {1}}, {{9000, 33}, {1}},
        {{2, 3, 4, 5}, {}},  {{3, 0, 4}, {1}},       {{40000, 3}, {0}}, {{100, 20000}, {1}}};
    for (const auto& [shape, dims] : cases) {
      INFO("shape " << shape_str(shape) << " dims " << dims.size());
      Tensor x = uniform(shape, 21, -1, 1, dt);
      check_op([d = dims](const TensorList& t) { return sum(t[0], d); }, {x}, tol);
      if (shape_numel(shape) > 0) {
        check_op([d = dims](const TensorList& t) { return mean(t[0], d, true); }, {x}, tol);
        check_op([d = dims](const TensorList& t) { return var(t[0], d); }, {x}, tol);
      }
    }
    check_op([](const TensorList& t) { return sum_to_shape(t[0], {1, 5}); }, {uniform({4, 5}, 22, -1, 1, dt)}, tol);
  });
}

TEST_CASE("parity: max and argmax are exact, with ties and NaN", "[parity][reduce]") {
  for_each_dtype([](DType dt) {
    for (const Shape& s : std::vector<Shape>{{300, 40}, {4, 5000}, {7, 300, 3}, {10000, 5}, {3, 100000}}) {
      INFO("shape " << shape_str(s));
      // Values on a coarse grid, so many rows have tied maxima (the first one must win).
      Tensor x = floor(uniform(s, 31, -4, 4, dt));
      for (int64_t dim = 0; dim < static_cast<int64_t>(s.size()); ++dim) {
        check_exact(max(x, dim), max(dev(x), dim));
        check_exact(argmax(x, dim), argmax(dev(x), dim));
        check_op([dim](const TensorList& t) { return max(t[0], dim); }, {x}, 0);
      }
    }
    double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> v(2000, 1.0);
    v[700] = nan;
    v[1500] = nan;
    v[3] = 5;
    Tensor y = from_vector(v).to(dt).reshape({2, 1000});
    for (int64_t dim : {0, 1}) {
      check_exact(max(y, dim), max(dev(y), dim));
      check_exact(argmax(y, dim), argmax(dev(y), dim));
    }
    Tensor z = from_vector(v).to(dt);
    check_exact(argmax(z, 0), argmax(dev(z), 0));  // the first NaN
  });
}

TEST_CASE("parity: the raw gemm contract (transposes, alpha, beta, k = 0)", "[parity][gemm]") {
  for_each_dtype([](DType dt) {
    double tol = tol_for(dt);
    // matmul and linear through autograd: the op-case table. Here the kernel contract directly:
    // every transpose combination, alpha, beta (C is read), k = 0.
    int64_t m = 13, n = 7, k = 21, batch = 3;
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        for (int64_t kk : {k, int64_t{0}}) {
          INFO("trans_a " << ta << " trans_b " << tb << " k " << kk);
          Tensor a = uniform({batch, ta ? kk : m, ta ? m : kk}, 14, -1, 1, dt);
          Tensor b = uniform({batch, tb ? n : kk, tb ? kk : n}, 15, -1, 1, dt);
          Tensor c = uniform({batch, m, n}, 16, -1, 1, dt);
          Tensor ad = dev(a), bd = dev(b), cd = dev(c);
          auto run = [&](Tensor& A, Tensor& B, Tensor& C) {
            backend(C.device())
                .gemm(dt, ta, tb, m, n, kk, 0.75, A.raw_data(), ta ? m : kk, A.numel() / batch, B.raw_data(),
                      tb ? kk : n, B.numel() / batch, -0.5, C.raw_data(), n, m * n, batch);
          };
          run(a, b, c);
          run(ad, bd, cd);
          check_close(c, cd, tol);
        }
      }
    }
  });
}

TEST_CASE("parity: uniform random fills are bit-identical, normals match", "[parity][random]") {
  for_each_dtype([](DType dt) {
    for (int64_t n : {1, 3, 4, 5, 1001, 100003}) {
      for (auto [lo, hi] : std::vector<std::pair<double, double>>{{0, 1}, {-1, 1}, {-0.3, 0.7}, {2, 1e3}}) {
        INFO("n " << n << " range " << lo << " " << hi);
        Generator g1(1234), g2(1234);
        g1.reserve(17);
        g2.reserve(17);  // a nonzero offset
        check_exact(rand({n}, dt, Device::cpu, lo, hi, &g1), rand({n}, dt, device(), lo, hi, &g2));
        CHECK(g1.offset() == g2.offset());
      }
      Generator g1(99), g2(99);
      check_close(randn({n}, dt, Device::cpu, 0.5, 2, &g1), randn({n}, dt, device(), 0.5, 2, &g2),
                  dt == DType::f32 ? 1e-6 : 1e-12);
    }
    // Dropout draws its mask from the same stream: the same elements are dropped on both devices.
    Tensor x = uniform({64, 100}, 5, 1, 2, dt);
    Generator g1(7), g2(7);
    Tensor yc = dropout(x, 0.3, true, &g1), yd = dropout(dev(x), 0.3, true, &g2);
    check_exact(eq(yc, zeros({}, dt)), eq(yd, zeros({}, dt, device())));
    check_close(yc, yd, tol_for(dt));
  });
}
