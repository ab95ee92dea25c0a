// Shape ops and copies. reshape and dim-0 slices are views (shared storage at an offset); the rest
// copy. Gradients: reshape -> reshape back; slice -> zeros with g in the slice; cat -> slices of g;
// permute -> inverse permutation; clone -> g; to_device/to_dtype -> moved/cast back.
#include <numeric>

#include "autograd/ops/internal.h"
#include "backends/transfer.h"

namespace sl {

namespace {

Tensor view(const Tensor& x, const Shape& shape, int64_t extra_offset) {
  auto impl = std::make_shared<TensorImpl>(*x.impl());
  impl->autograd.reset();
  impl->shape = shape;
  impl->offset += extra_offset;
  return Tensor(std::move(impl));
}

Shape resolve_shape(const Shape& x_shape, const Shape& want) {
  Shape out = want;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      SL_CHECK(infer < 0, "reshape: only one dimension can be -1 in {}", shape_str(want));
      infer = static_cast<int64_t>(i);
    } else {
      SL_CHECK(out[i] >= 0, "reshape: invalid size {} in {}", out[i], shape_str(want));
      known *= out[i];
    }
  }
  int64_t n = shape_numel(x_shape);
  if (infer >= 0) {
    SL_CHECK(known > 0 && n % known == 0, "reshape: cannot reshape {} into {}", shape_str(x_shape), shape_str(want));
    out[static_cast<size_t>(infer)] = n / known;
  }
  SL_CHECK(shape_numel(out) == n, "reshape: cannot reshape {} ({} elements) into {}", shape_str(x_shape), n,
           shape_str(want));
  return out;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = resolve_shape(x.shape(), shape);
  Shape xs = x.shape();
  return record("reshape", view(x, s, 0), {x},
                [xs](const Tensor& g, const std::vector<bool>&) { return TensorList{reshape(g, xs)}; });
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = normalize_dim(start_dim, x.dim(), "flatten"), e = normalize_dim(end_dim, x.dim(), "flatten");
  SL_CHECK(s <= e, "flatten: start_dim {} is after end_dim {}", start_dim, end_dim);
  Shape out(x.shape().begin(), x.shape().begin() + s);
  int64_t merged = 1;
  for (int64_t d = s; d <= e; ++d) merged *= x.shape()[static_cast<size_t>(d)];
  out.push_back(merged);
  out.insert(out.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, out);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = normalize_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + d, 1);
  return reshape(x, s);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  int64_t d = normalize_dim(dim, x.dim(), "squeeze");
  SL_CHECK(x.shape()[static_cast<size_t>(d)] == 1, "squeeze: dimension {} of shape {} has size {}, not 1", dim,
           shape_str(x.shape()), x.shape()[static_cast<size_t>(d)]);
  Shape s = x.shape();
  s.erase(s.begin() + d);
  return reshape(x, s);
}

namespace {
// Copies `src` (shape with `len` along dim) into `dst` at position `at` along dim, or the reverse.
void copy_along(const Tensor& src, Tensor& dst, int64_t dim, int64_t at, bool into_dst_slot) {
  const Tensor& big = into_dst_slot ? dst : src;
  ReduceDims d = detail::dims_around(big.shape(), dim);
  int64_t len = (into_dst_slot ? src : dst).shape()[static_cast<size_t>(dim)];
  if (d.outer == 0 || len == 0 || d.inner == 0) return;
  size_t es = dtype_size(src.dtype());
  int64_t big_ld = d.extent * d.inner, small_ld = len * d.inner;
  if (into_dst_slot) {
    auto* out = static_cast<char*>(dst.raw_data()) + static_cast<size_t>(at * d.inner) * es;
    detail::backend_of(src).copy_2d(src.dtype(), src.raw_data(), small_ld, out, big_ld, d.outer, small_ld);
  } else {
    auto* in = static_cast<const char*>(src.raw_data()) + static_cast<size_t>(at * d.inner) * es;
    detail::backend_of(src).copy_2d(src.dtype(), in, big_ld, dst.raw_data(), small_ld, d.outer, small_ld);
  }
}
}  // namespace

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end) {
  SL_CHECK(x.dim() > 0, "slice: cannot slice a 0-dimensional tensor");
  int64_t d = normalize_dim(dim, x.dim(), "slice");
  int64_t size = x.shape()[static_cast<size_t>(d)];
  SL_CHECK(0 <= start && start <= end && end <= size, "slice: range [{}, {}) is outside [0, {}] of dimension {} of {}",
           start, end, size, dim, shape_str(x.shape()));
  Shape s = x.shape();
  s[static_cast<size_t>(d)] = end - start;
  Tensor out;
  if (d == 0) {
    out = view(x, s, start * (size ? x.numel() / size : 0));
  } else {
    out = Tensor::empty(s, x.dtype(), x.device());
    copy_along(x, out, d, start, false);
  }
  Shape xs = x.shape();
  return record("slice", out, {x}, [xs, d, start](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = zeros(xs, g.dtype(), g.device());
    copy_along(g, gx, d, start, true);
    return TensorList{gx};
  });
}

Tensor cat(const TensorList& tensors, int64_t dim) {
  SL_CHECK(!tensors.empty(), "cat: needs at least one tensor");
  const Tensor& first = tensors[0];
  SL_CHECK(first.dim() > 0, "cat: cannot concatenate 0-dimensional tensors");
  int64_t d = normalize_dim(dim, first.dim(), "cat");
  Shape s = first.shape();
  s[static_cast<size_t>(d)] = 0;
  std::vector<int64_t> starts;
  for (const Tensor& t : tensors) {
    SL_CHECK(t.dtype() == first.dtype(), "cat: dtypes differ ({} and {})", first.dtype(), t.dtype());
    check_same_device("cat", first, t);
    bool ok = t.dim() == first.dim();
    for (int64_t k = 0; ok && k < t.dim(); ++k)
      ok = k == d || t.shape()[static_cast<size_t>(k)] == first.shape()[static_cast<size_t>(k)];
    SL_CHECK(ok, "cat: shapes {} and {} differ outside dimension {}", shape_str(first.shape()), shape_str(t.shape()),
             dim);
    starts.push_back(s[static_cast<size_t>(d)]);
    s[static_cast<size_t>(d)] += t.shape()[static_cast<size_t>(d)];
  }
  Tensor out = Tensor::empty(s, first.dtype(), first.device());
  for (size_t i = 0; i < tensors.size(); ++i) copy_along(tensors[i], out, d, starts[i], true);
  std::vector<int64_t> lens;
  for (const Tensor& t : tensors) lens.push_back(t.shape()[static_cast<size_t>(d)]);
  return record("cat", out, tensors, [d, starts, lens](const Tensor& g, const std::vector<bool>& needs) {
    TensorList gs(starts.size());
    for (size_t i = 0; i < starts.size(); ++i)
      if (needs[i]) gs[i] = slice(g, d, starts[i], starts[i] + lens[i]);
    return gs;
  });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& perm) {
  SL_CHECK(static_cast<int64_t>(perm.size()) == x.dim(), "permute: {} dims given for a tensor of shape {}",
           perm.size(), shape_str(x.shape()));
  std::vector<int64_t> p(perm.size()), inverse(perm.size());
  std::vector<bool> seen(perm.size(), false);
  Shape s(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    p[i] = normalize_dim(perm[i], x.dim(), "permute");
    SL_CHECK(!seen[static_cast<size_t>(p[i])], "permute: dimension {} repeated", p[i]);
    seen[static_cast<size_t>(p[i])] = true;
    inverse[static_cast<size_t>(p[i])] = static_cast<int64_t>(i);
    s[i] = x.shape()[static_cast<size_t>(p[i])];
  }
  Tensor out = Tensor::empty(s, x.dtype(), x.device());
  if (out.numel() > 0) detail::backend_of(x).permute(x.dtype(), x.raw_data(), x.shape(), p, out.raw_data());
  return record("permute", out, {x},
                [inverse](const Tensor& g, const std::vector<bool>&) { return TensorList{permute(g, inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  std::vector<int64_t> p(static_cast<size_t>(x.dim()));
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[static_cast<size_t>(normalize_dim(dim0, x.dim(), "transpose"))],
            p[static_cast<size_t>(normalize_dim(dim1, x.dim(), "transpose"))]);
  return permute(x, p);
}

Tensor clone(const Tensor& x) {
  Tensor out = empty_like(x);
  if (x.numel() > 0) detail::backend_of(x).copy(out.raw_data(), x.raw_data(), x.nbytes());
  return record("clone", out, {x}, [](const Tensor& g, const std::vector<bool>&) { return TensorList{g}; });
}

Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), device);
  copy_bytes(device, out.raw_data(), x.device(), x.raw_data(), x.nbytes());
  Device from = x.device();
  return record("to_device", out, {x},
                [from](const Tensor& g, const std::vector<bool>&) { return TensorList{to_device(g, from)}; });
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  if (x.numel() > 0) detail::backend_of(x).cast(x.dtype(), x.raw_data(), dtype, out.raw_data(), x.numel());
  if (!is_floating(dtype)) return out;  // integer results carry no gradient
  DType from = x.dtype();
  return record("to_dtype", out, {x},
                [from](const Tensor& g, const std::vector<bool>&) { return TensorList{to_dtype(g, from)}; });
}

Tensor Tensor::reshape(const Shape& s) const { return sl::reshape(*this, s); }
Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const { return sl::flatten(*this, start_dim, end_dim); }
Tensor Tensor::slice(int64_t start, int64_t end) const { return sl::slice(*this, 0, start, end); }
Tensor Tensor::clone() const { return sl::clone(*this); }
Tensor Tensor::to(Device device) const { return to_device(*this, device); }
Tensor Tensor::to(DType dtype) const { return to_dtype(*this, dtype); }

}  // namespace sl
