// Broadcasting binary ops. The engine sums each gradient back to its input's shape, so the rules
// below are written for the broadcast (output) shape.
#include "autograd/ops/internal.h"

namespace sl {

namespace detail {

Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  SL_CHECK(a.dtype() == b.dtype(), "{}: dtypes differ ({} and {})", name, a.dtype(), b.dtype());
  check_same_device(name, a, b);
  Shape os = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(os, a.dtype(), a.device());
  if (out.numel() > 0)
    backend_of(a).binary(op, a.dtype(), a.raw_data(), a.shape(), b.raw_data(), b.shape(), out.raw_data(), os);
  return out;
}

Tensor expand_to(const Tensor& g, const Shape& shape) {
  Shape os = broadcast_shapes(g.shape(), shape, "expand");
  SL_CHECK(os == shape, "expand: shape {} cannot be broadcast to {}", shape_str(g.shape()), shape_str(shape));
  Tensor zero = scalar_like(0.0, g);
  Tensor out = Tensor::empty(shape, g.dtype(), g.device());
  if (out.numel() > 0)
    backend_of(g).binary(BinaryOp::add, g.dtype(), g.raw_data(), g.shape(), zero.raw_data(), zero.shape(),
                         out.raw_data(), shape);
  return out;
}

}  // namespace detail

using detail::binary_raw;

Tensor scalar_like(double value, const Tensor& like) { return scalar_tensor(value, like.dtype(), like.device()); }

// d(a+b)/da = g, d(a+b)/db = g
Tensor add(const Tensor& a, const Tensor& b) {
  return record("add", binary_raw(BinaryOp::add, a, b, "add"), {a, b},
                [](const Tensor& g, const std::vector<bool>&) { return TensorList{g, g}; });
}

// d(a-b)/da = g, d(a-b)/db = -g
Tensor sub(const Tensor& a, const Tensor& b) {
  return record("sub", binary_raw(BinaryOp::sub, a, b, "sub"), {a, b},
                [](const Tensor& g, const std::vector<bool>& needs) {
                  return TensorList{g, needs[1] ? neg(g) : Tensor()};
                });
}

// d(ab)/da = g*b, d(ab)/db = g*a
Tensor mul(const Tensor& a, const Tensor& b) {
  // Save each operand only if the other one's gradient needs it.
  Tensor ad = b.requires_grad() ? a.detach() : Tensor();
  Tensor bd = a.requires_grad() ? b.detach() : Tensor();
  return record("mul", binary_raw(BinaryOp::mul, a, b, "mul"), {a, b},
                [ad, bd](const Tensor& g, const std::vector<bool>& needs) {
                  return TensorList{needs[0] ? mul(g, bd) : Tensor(), needs[1] ? mul(g, ad) : Tensor()};
                });
}

// d(a/b)/da = g/b, d(a/b)/db = -g*a/b^2 = -g*out/b
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::div, a, b, "div");
  Tensor bd = b.detach(), od = out.detach();
  return record("div", out, {a, b}, [bd, od](const Tensor& g, const std::vector<bool>& needs) {
    return TensorList{needs[0] ? div(g, bd) : Tensor(), needs[1] ? neg(div(mul(g, od), bd)) : Tensor()};
  });
}

namespace {
// Gradient share of `a` in max/min: 1 where a wins, 1/2 on ties, 0 where b wins.
Tensor win_share(BinaryOp wins, const Tensor& a, const Tensor& b) {
  Tensor strict = binary_raw(wins, a, b, "maximum");
  Tensor tie = binary_raw(BinaryOp::eq, a, b, "maximum");
  return add(strict, mul(tie, scalar_like(0.5, tie)));
}

Tensor extremum(BinaryOp op, BinaryOp wins, const char* name, const Tensor& a, const Tensor& b) {
  Tensor ad = a.detach(), bd = b.detach();
  return record(name, binary_raw(op, a, b, name), {a, b}, [=](const Tensor& g, const std::vector<bool>&) {
    Tensor share = win_share(wins, ad, bd);  // broadcast shape
    return TensorList{mul(g, share), mul(g, sub(scalar_like(1.0, share), share))};
  });
}
}  // namespace

// d max(a,b)/da = g*[a>b] + g/2*[a==b]; symmetric for b.
Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(BinaryOp::max, BinaryOp::gt, "maximum", a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(BinaryOp::min, BinaryOp::lt, "minimum", a, b); }

// d(a^b)/da = g*b*a^(b-1), d(a^b)/db = g*a^b*ln(a)
Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::pow, a, b, "pow");
  Tensor ad = a.detach(), bd = b.detach(), od = out.detach();
  return record("pow", out, {a, b}, [ad, bd, od](const Tensor& g, const std::vector<bool>& needs) {
    Tensor ga, gb;
    if (needs[0]) ga = mul(g, mul(bd, pow(ad, sub(bd, scalar_like(1.0, bd)))));
    if (needs[1]) gb = mul(g, mul(od, log(ad)));
    return TensorList{ga, gb};
  });
}

Tensor pow(const Tensor& a, double exponent) {
  Tensor e = scalar_like(exponent, a);
  Tensor ad = a.detach();
  return record("pow", binary_raw(BinaryOp::pow, a, e, "pow"), {a},
                [ad, exponent](const Tensor& g, const std::vector<bool>&) {
                  return TensorList{mul(g, mul(pow(ad, exponent - 1), scalar_like(exponent, ad)))};
                });
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::ge, a, b, "ge"); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }
Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace sl
