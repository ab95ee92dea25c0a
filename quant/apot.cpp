#include "quant/apot.h"

#include <cmath>
#include <memory>
#include <vector>

#include "autograd/function.h"
#include "backends/backend.h"
#include "engine/factory.h"

namespace sl {

namespace {

// Levels 0, 1/n, ..., 1 of the uniform variant.
std::vector<double> uniform_magnitudes(int64_t n) {
  std::vector<double> m;
  for (int64_t k = 0; k <= n; ++k) m.push_back(static_cast<double>(k) / static_cast<double>(n));
  return m;
}

void check_alpha(const Tensor& alpha, const char* what) {
  double a = alpha.item();
  SL_CHECK(a > 0 && std::isfinite(a),
           "apot: the clipping threshold {} became {} (must stay positive); lower its learning rate or weight decay",
           what, a);
}

// x normalised over the whole tensor: (W - mean) / std (unbiased), differentiable or constant.
Tensor normalise(const Tensor& w, bool differentiable) {
  SL_CHECK(w.numel() > 1, "apot: weight normalisation needs more than one element, got shape {}", shape_str(w.shape()));
  if (differentiable) return standardize(w);
  Tensor m, s;
  {
    NoGradGuard no_grad;
    m = mean(w);
    s = sqrt(var(w));
  }
  SL_CHECK(s.item() > 0, "apot: weight normalisation of a constant weight tensor (std 0)");
  return div(sub(w, m), s);
}

// W_q = q * alpha with the "reparameterised clipping" gradients written out (spec §A4/A5):
// dx_n = g (unmasked), dalpha = sum g * (sign(x) if |x| > 1 else q - x) * gs. `project` maps the
// clipped value c in [-1, 1] to q.
template <class Project>
Tensor clipped_ste(const Tensor& wn, const Tensor& alpha, double gs, Project project) {
  Tensor x, q;
  {
    NoGradGuard no_grad;
    x = div(wn, alpha);
    q = project(clamp(x, -1, 1));
  }
  Tensor out = mul(q, alpha.detach());
  return record("apot_weight", out, {wn, alpha}, [x, q, gs](const Tensor& g, const std::vector<bool>& needs) {
    TensorList grads(2);
    if (needs[0]) grads[0] = g;
    if (needs[1]) {
      Tensor outside = gt(abs(x), scalar_like(1.0, x));
      Tensor inside = sub(scalar_like(1.0, x), outside);
      Tensor d = add(mul(sign(x), outside), mul(sub(q, x), inside));
      Tensor ga = sum(mul(g, d));
      grads[1] = gs != 0 ? mul(ga, scalar_like(gs, ga)) : ga;
    }
    return grads;
  });
}

// The projections of clipped_quantize: onto a level set (of |c|, sign restored, when symmetric) or
// onto `steps` uniform steps of [0, 1] ([-1, 1] when symmetric).
ApotProjection onto_levels(const LevelSet& set, bool symmetric) {
  ApotProjection p;
  p.levels = set.levels.data();
  p.tie_rank = set.tie_rank.data();
  p.nlevels = static_cast<int64_t>(set.levels.size());
  p.symmetric = symmetric;
  return p;
}

ApotProjection onto_steps(double steps, bool symmetric) {
  ApotProjection p;
  p.steps = steps;
  p.symmetric = symmetric;
  return p;
}

// ((c + (q - c)) * a) * scale with c = clamp(x / a, lo, hi) and q = p's projection of c (no
// gradient through q; scale a constant, 1 for none): the clipped straight-through quantizer of the
// imagenet flavour and of the activations. One pass forward (backend apot_quantize) and one back
// (apot_backward, with a's gradient summed as it goes, recomputing c + (q - c) from x rather than
// holding it), with exactly the values and gradients autograd takes through
// div -> clamp -> (c + detached projection) * a -> * scale.
Tensor clipped_quantize(const Tensor& x, const Tensor& a, double lo, double hi, const ApotProjection& p,
                        double scale = 1) {
  const double av = a.item();
  const int64_t n = x.numel();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (n > 0) backend(x.device()).apot_quantize(x.dtype(), x.raw_data(), n, av, lo, hi, scale, p, out.raw_data());
  Tensor xd = x.detach();
  Shape a_shape = a.shape();
  // The backward's own copy of the level set: the quantizer that owns p's arrays may be gone by then.
  auto levels = std::make_shared<const std::vector<double>>(p.levels, p.levels + (p.levels ? p.nlevels : 0));
  auto rank = std::make_shared<const std::vector<int32_t>>(p.tie_rank, p.tie_rank + (p.tie_rank ? p.nlevels : 0));
  return record("apot_quantize", out, {x, a}, [xd, p, levels, rank, av, lo, hi, scale, a_shape](
                                                  const Tensor& g, const std::vector<bool>& needs) {
    Tensor gx = needs[0] ? Tensor::empty(g.shape(), g.dtype(), g.device()) : Tensor();
    // a's gradient arrives from the product first, then from x / a, as autograd would sum them.
    Tensor ga = needs[1] ? Tensor::empty(a_shape, g.dtype(), g.device()) : Tensor();
    SL_CHECK(!ga.defined() || ga.numel() == 1, "apot: the clipping threshold must be one value, got shape {}",
             shape_str(a_shape));
    ApotProjection own = p;
    own.levels = p.levels ? levels->data() : nullptr;
    own.tie_rank = p.tie_rank ? rank->data() : nullptr;
    if (g.numel() > 0)
      backend(g.device()).apot_backward(g.dtype(), g.raw_data(), xd.raw_data(), g.numel(), av, lo, hi, scale, own,
                                        needs[0] ? gx.raw_data() : nullptr, needs[1] ? ga.raw_data() : nullptr);
    else if (ga.defined())
      ga = zeros(a_shape, g.dtype(), g.device());
    return TensorList{gx, ga};
  });
}

}  // namespace

APoTFlavour apot_flavour_from_name(const std::string& name) {
  if (name == "imagenet") return APoTFlavour::imagenet;
  if (name == "cifar") return APoTFlavour::cifar;
  fail("unknown APoT flavour '{}' (expected imagenet or cifar)", name);
}

Tensor gradient_scale(const Tensor& alpha, double s) {
  // (alpha - alpha*s) detached + alpha*s: the value of alpha, the gradient times s.
  Tensor scaled = mul(alpha, scalar_like(s, alpha));
  return add(sub(alpha, scaled).detach(), scaled);
}

// ---- weights ----

APoTWeight::APoTWeight(const APoTOptions& o) : options_(o) {
  if (o.power && o.bits > 2) {
    SL_CHECK(o.bits <= 7, "apot: weight bits must be in [2, 7] (B = bits - 1 <= 6), got {}", o.bits);
    levels_ = apot_levels(o.bits - 1);
  }
  SL_CHECK(o.bits >= 2 && o.bits <= 8, "{}: weight bits must be in [2, 8], got {}", method(), o.bits);
  SL_CHECK(!(o.flavour == APoTFlavour::cifar && !o.power && o.bits > 2),
           "uniform: the uniform variant exists only in the imagenet flavour of the original code");
  SL_CHECK(o.alpha > 0, "apot: the initial weight clipping threshold must be positive, got {}", o.alpha);
  alpha_ = register_parameter("weight_alpha", scalar_tensor(o.alpha));
}

std::vector<double> APoTWeight::magnitudes() const {
  if (options_.bits == 2) return {0.0, 1.0};
  if (!options_.power) return uniform_magnitudes((int64_t{1} << (options_.bits - 1)) - 1);
  return levels_.levels;
}

double APoTWeight::scale() const { return alpha_.item() * (options_.rescale ? std_ : 1.0); }

Tensor APoTWeight::effective_weight(const Tensor& weight) {
  if (!options_.rescale) return quantize(weight, 1);
  {
    NoGradGuard no_grad;
    std_ = std::sqrt(var(weight.detach()).item());
  }
  return quantize(weight, std_);
}

// W_q times `scale` (the rescale's std, or 1): a product the clipped quantizer takes in its own
// passes, or a mul after the others.
Tensor APoTWeight::quantize(const Tensor& weight, double scale) {
  SL_CHECK(weight.defined(), "apot needs the layer's weight");
  check_alpha(alpha_, "weight_alpha");
  const APoTOptions& o = options_;
  bool imagenet = o.flavour == APoTFlavour::imagenet;
  Tensor wn = normalise(weight, imagenet);
  auto scaled = [scale](const Tensor& wq) { return scale == 1 ? wq : mul(wq, scalar_like(scale, wq)); };
  if (o.bits == 2) {  // ternary, calibrated (unmasked) gradient in both flavours
    if (imagenet) return scaled(clipped_ste(wn, alpha_, o.grad_scale, [](const Tensor& c) { return round(c); }));
    // The cifar code's uniform_quant(|c|, 1) * sign(c): sign(-0) = +0, so a -0 weight gives +0.
    return scaled(clipped_ste(wn, alpha_, o.grad_scale, [](const Tensor& c) { return mul(sign(c), round(abs(c))); }));
  }
  if (!imagenet) {  // cifar flavour: unmasked weight gradient
    const LevelSet& set = levels_;
    return scaled(
        clipped_ste(wn, alpha_, 0, [&set](const Tensor& c) { return mul(sign(c), project_to_levels(abs(c), set)); }));
  }
  // imagenet flavour: autograd through clamp and a straight-through projection, as upstream.
  Tensor a = o.grad_scale != 0 ? gradient_scale(alpha_, o.grad_scale) : alpha_;
  if (o.power) return clipped_quantize(wn, a, -1, 1, onto_levels(levels_, true), scale);
  return clipped_quantize(wn, a, -1, 1, onto_steps(static_cast<double>((int64_t{1} << (o.bits - 1)) - 1), true), scale);
}

// ---- activations ----

APoTActivation::APoTActivation(const APoTOptions& o) : options_(o) {
  SL_CHECK(o.bits >= 2 && o.bits <= 8, "apot: activation bits must be in [2, 8], got {}", o.bits);
  if (o.power) {
    SL_CHECK(o.bits <= 6, "apot: APoT activation bits must be in [2, 6] (B = bits), got {}", o.bits);
    levels_ = apot_levels(o.bits);
  }
  SL_CHECK(o.alpha > 0, "apot: the initial activation clipping threshold must be positive, got {}", o.alpha);
  alpha_ = register_parameter("act_alpha", scalar_tensor(o.alpha));
}

std::vector<double> APoTActivation::levels() const {
  return options_.power ? levels_.levels : uniform_magnitudes((int64_t{1} << options_.bits) - 1);
}

Tensor APoTActivation::forward(const Tensor& x) {
  check_alpha(alpha_, "act_alpha");
  const APoTOptions& o = options_;
  Tensor a = o.grad_scale != 0 ? gradient_scale(alpha_, o.grad_scale) : alpha_;
  // imagenet clamps to [0, 1]; cifar only from above (negative inputs then project to level 0 but
  // keep their gradient).
  double lo = o.flavour == APoTFlavour::imagenet ? 0.0 : -INFINITY;
  if (o.power) return clipped_quantize(x, a, lo, 1, onto_levels(levels_, false));
  return clipped_quantize(x, a, lo, 1, onto_steps(static_cast<double>((int64_t{1} << o.bits) - 1), false));
}

// ---- 8-bit first and last layers ----

std::vector<double> APoTFirstLast::magnitudes() const {
  // Signed max: a negative weight may be many steps beyond 127, but not millions (a hostile file).
  SL_CHECK(steps_ <= (int64_t{1} << 20), "apot-8bit: {} steps of max/127: the weights span an implausible range",
           steps_);
  std::vector<double> m;
  for (int64_t k = 0; k <= steps_; ++k) m.push_back(static_cast<double>(k));
  return m;
}

Tensor APoTFirstLast::effective_weight(const Tensor& weight) {
  SL_CHECK(weight.defined(), "apot-8bit needs the layer's weight");
  Tensor w = weight.detach(), value;
  {
    NoGradGuard no_grad;
    Tensor m = max(flatten(w), 0);
    max_ = m.item();
    // Upstream divides by the signed maximum whatever its sign: an all-negative tensor has m < 0 and
    // is quantized all the same (W / m > 0). Only m = 0 or a non-finite m leaves no scale.
    SL_CHECK(max_ != 0 && std::isfinite(max_), "apot-8bit: the largest weight must be nonzero and finite to set the "
             "scale, got {}", max_);
    Tensor steps = round(mul(div(w, m), scalar_like(127.0, w)));
    // A -inf or NaN weight makes a step non-finite; casting it to an integer would be undefined.
    double largest = max(abs(flatten(steps)), 0).item();
    SL_CHECK(largest >= 0 && largest < 0x1p62, "apot-8bit: the weights hold a non-finite value (largest step {})",
             largest);
    steps_ = static_cast<int64_t>(largest);
    Tensor wq = mul(div(steps, scalar_like(127.0, w)), m);
    value = add(sub(wq, w), w);  // upstream's (W_q - W) + W, which may differ from W_q by one ulp
  }
  return record("apot_first_last", value, {weight},
                [](const Tensor& g, const std::vector<bool>&) { return TensorList{g}; });
}

}  // namespace sl
