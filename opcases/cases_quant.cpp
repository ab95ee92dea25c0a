// The quantizers' differentiable ops: DeepShift-Q/PS weights and fixed-point activations, APoT
// (power and uniform levels, both code flavours) weights and activations with their learnable clip,
// the 8-bit first/last layer, S3 and DenseShift weights, and APoT's gradient scale. Their backwards
// are straight-through surrogates: no finite-difference check (the forward is a step function), but
// f32 against f64, thread counts and CPU against CUDA all compare the surrogate's values; the
// quantizers' own tests check the surrogates against the papers' code (golden vectors).
#include <fmt/format.h>

#include "engine/rng.h"
#include "opcases/builders.h"
#include "quant/apot.h"
#include "quant/deepshift.h"
#include "quant/denseshift.h"
#include "quant/s3.h"

namespace sl::opcases {

namespace {

Input shift_friendly(Shape shape, bool requires_grad = true) {
  return Input{std::move(shape), -1, 1, Values::shift_friendly, requires_grad};
}

OpCase surrogate(OpCase c, bool f64 = true) {
  c.backward = Backward::surrogate;
  c.f64 = f64;
  return c;
}

void add_deepshift(std::vector<OpCase>& out) {
  const Shape w{16, 8, 3, 3};
  for (int bits : {5, 3}) {
    out.push_back(surrogate(op_case("deepshift-q", fmt::format("deepshift-q weight {} bits", bits), {shift_friendly(w)},
                                    plain([bits](const TensorList& t) {
                                      DeepShiftQ q(bits, Rounding::deterministic, false);
                                      return q.effective_weight(t[0]);
                                    }))));
  }
  // The latents live in the quantizer (initialised from the weight): their gradients are compared.
  // f32 only: the shift latent is computed in f32 as upstream does.
  out.push_back(surrogate(op_case("deepshift-ps", "deepshift-ps weight 5 bits", {shift_friendly(w, false)},
                                  [](const TensorList& t, TensorList& leaves) {
                                    DeepShiftPS q(t[0], 5, Rounding::deterministic, false);
                                    leaves = {q.shift(), q.sign()};
                                    return q.effective_weight(Tensor());
                                  }),
                          false));
  for (auto [i, f] : std::vector<std::pair<int, int>>{{16, 16}, {3, 5}}) {
    out.push_back(surrogate(op_case("fixed-point", fmt::format("fixed-point activation {}.{}", i, f), {in({1000}, -6, 6)},
                                    plain([i = i, f = f](const TensorList& t) { return FixedPointInput({i, f})(t[0]); }))));
  }
}

void add_apot(std::vector<OpCase>& out) {
  // f32 only: the clipping threshold alpha is an f32 parameter. The module moves to the inputs'
  // device, so the same case runs on CUDA.
  struct Weight {
    int bits;
    bool power;
    APoTFlavour flavour;
    double grad_scale;
  };
  for (Weight wc : std::vector<Weight>{{4, true, APoTFlavour::imagenet, 0.5},
                                       {3, true, APoTFlavour::cifar, 0},
                                       {2, true, APoTFlavour::imagenet, 0},
                                       {4, false, APoTFlavour::imagenet, 0}}) {
    APoTOptions o;
    o.bits = wc.bits;
    o.power = wc.power;
    o.flavour = wc.flavour;
    o.grad_scale = wc.grad_scale;
    std::string name = fmt::format("{} weight {} bits {}", wc.power ? "apot" : "uniform", wc.bits,
                                   wc.flavour == APoTFlavour::imagenet ? "imagenet" : "cifar");
    out.push_back(surrogate(op_case(wc.power ? "apot" : "uniform", name, {in({32, 16, 3, 3}, -2, 2)},
                                    [o](const TensorList& t, TensorList& leaves) {
                                      APoTWeight q(o);
                                      q.to(t[0].device());
                                      leaves = {q.alpha()};
                                      return q.effective_weight(t[0]);
                                    }),
                            false));
  }
  for (APoTFlavour fl : {APoTFlavour::imagenet, APoTFlavour::cifar}) {
    APoTOptions o;
    o.bits = 3;
    o.flavour = fl;
    o.alpha = 6.0;
    out.push_back(surrogate(op_case("apot", fmt::format("apot activation 3 bits {}", fl == APoTFlavour::imagenet ? "imagenet" : "cifar"),
                                    {in({4, 8, 5, 5}, -1, 8)},
                                    [o](const TensorList& t, TensorList& leaves) {
                                      APoTActivation q(o);
                                      q.to(t[0].device());
                                      leaves = {q.alpha()};
                                      return q(t[0]);
                                    }),
                            false));
  }
  out.push_back(surrogate(op_case("apot", "apot 8-bit first/last layer", {in({10, 64})}, plain([](const TensorList& t) {
                                    APoTFirstLast q;
                                    return q.effective_weight(t[0]);
                                  }))));
  out.push_back(surrogate(op_case("apot", "gradient_scale", {in({})},
                                  plain([](const TensorList& t) { return mul(gradient_scale(t[0], 0.25), t[0]); }))));
}

void add_s3_denseshift(std::vector<OpCase>& out) {
  // The layer's weight is the sign latent (the input); the other latents are drawn from a fixed
  // generator into a copy, and are leaves.
  for (int bits : {3, 4}) {
    out.push_back(surrogate(op_case("s3", fmt::format("s3 weight {} bits", bits), {in({8, 4, 3, 3})},
                                    [bits](const TensorList& t, TensorList& leaves) {
                                      Generator g(7);
                                      S3Weight q(t[0].detach().clone(), bits, S3Init::he, g);
                                      leaves = {q.sparse()};
                                      for (const Tensor& s : q.shifts()) leaves.push_back(s);
                                      return q.effective_weight(t[0]);
                                    })));
  }
  for (int bits : {2, 3}) {
    out.push_back(surrogate(op_case("denseshift", fmt::format("denseshift weight {} bits", bits), {in({8, 4, 3, 3})},
                                    [bits](const TensorList& t, TensorList& leaves) {
                                      Generator g(8);
                                      DenseShiftWeight q(t[0].detach().clone(), bits, g, 0.5);
                                      leaves = q.gates();
                                      return q.effective_weight(t[0]);
                                    })));
  }
}

}  // namespace

void add_quant_cases(std::vector<OpCase>& out) {
  add_deepshift(out);
  add_apot(out);
  add_s3_denseshift(out);
}

}  // namespace sl::opcases
