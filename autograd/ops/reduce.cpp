// Reductions. sum is the primitive (gradient: g broadcast back over the reduced dims); mean and var
// are composed from it; max keeps the argmax and routes g there.
#include <algorithm>

#include "autograd/ops/internal.h"

namespace sl {

namespace detail {
ReduceDims dims_around(const Shape& shape, int64_t dim) {
  ReduceDims d{1, shape[static_cast<size_t>(dim)], 1};
  for (int64_t i = 0; i < dim; ++i) d.outer *= shape[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(dim) + 1; i < shape.size(); ++i) d.inner *= shape[i];
  return d;
}
}  // namespace detail

namespace {

std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(normalize_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  SL_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), "{}: a dimension is listed twice", op);
  return out;
}

Shape reduced_shape(const Shape& s, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    bool reduced = std::find(dims.begin(), dims.end(), d) != dims.end();
    if (!reduced) out.push_back(s[static_cast<size_t>(d)]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Sum over sorted dims without a graph: each run of adjacent dims is one kernel call.
Tensor sum_raw(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor cur = x;
  Shape shape = x.shape();
  size_t i = dims.size();
  while (i > 0) {  // last run first, so earlier dim indices stay valid
    size_t j = i - 1;
    while (j > 0 && dims[j - 1] + 1 == dims[j]) --j;
    int64_t first = dims[j], last = dims[i - 1];
    ReduceDims d{1, 1, 1};
    for (int64_t k = 0; k < first; ++k) d.outer *= shape[static_cast<size_t>(k)];
    for (int64_t k = first; k <= last; ++k) d.extent *= shape[static_cast<size_t>(k)];
    for (size_t k = static_cast<size_t>(last) + 1; k < shape.size(); ++k) d.inner *= shape[k];
    for (int64_t k = first; k <= last; ++k) shape[static_cast<size_t>(k)] = 1;
    Tensor out = Tensor::empty(shape, x.dtype(), x.device());
    if (out.numel() > 0) {
      if (d.extent == 0) {
        detail::backend_of(x).fill(x.dtype(), out.raw_data(), out.numel(), 0.0);
      } else {
        detail::backend_of(x).reduce(ReduceOp::sum, x.dtype(), cur.raw_data(), d, out.raw_data(), nullptr);
      }
    }
    cur = out;
    i = j;
  }
  return cur;
}

}  // namespace

// d sum(x)/dx = g broadcast back over the reduced dims.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  check_floating("sum", x);
  std::vector<int64_t> nd = normalize_dims(dims, x.dim(), "sum");
  Tensor out = sum_raw(x, nd);
  Shape kept = out.shape();
  Shape final_shape = reduced_shape(x.shape(), nd, keepdim);
  Tensor result = out.detach();
  result.impl()->shape = final_shape;
  Shape xs = x.shape();
  return record("sum", result, {x}, [kept, xs](const Tensor& g, const std::vector<bool>&) {
    return TensorList{detail::expand_to(reshape(g, kept), xs)};
  });
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<int64_t> nd = normalize_dims(dims, x.dim(), "mean");
  int64_t count = 1;
  for (int64_t d : nd) count *= x.shape()[static_cast<size_t>(d)];
  SL_CHECK(count > 0, "mean: cannot average over an empty dimension of shape {}", shape_str(x.shape()));
  return div(sum(x, nd, keepdim), scalar_like(static_cast<double>(count), x));
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  std::vector<int64_t> nd = normalize_dims(dims, x.dim(), "var");
  int64_t count = 1;
  for (int64_t d : nd) count *= x.shape()[static_cast<size_t>(d)];
  SL_CHECK(count > (unbiased ? 1 : 0), "var: need more than {} element(s) per reduction, shape {}",
           unbiased ? 1 : 0, shape_str(x.shape()));
  Tensor centered = sub(x, mean(x, nd, true));
  return div(sum(square(centered), nd, keepdim), scalar_like(static_cast<double>(count - (unbiased ? 1 : 0)), x));
}

namespace {
struct MaxResult {
  Tensor values, index;
  ReduceDims d;
};
MaxResult max_raw(const Tensor& x, int64_t dim, const char* op) {
  check_floating(op, x);
  int64_t nd = normalize_dim(dim, x.dim(), op);
  SL_CHECK(x.shape()[static_cast<size_t>(nd)] > 0, "{}: cannot reduce an empty dimension of shape {}", op,
           shape_str(x.shape()));
  ReduceDims d = detail::dims_around(x.shape(), nd);
  Shape s = x.shape();
  s[static_cast<size_t>(nd)] = 1;
  MaxResult r{Tensor::empty(s, x.dtype(), x.device()), Tensor::empty(s, DType::i32, x.device()), d};
  if (r.values.numel() > 0)
    detail::backend_of(x).reduce(ReduceOp::max, x.dtype(), x.raw_data(), d, r.values.raw_data(),
                                 static_cast<int32_t*>(r.index.raw_data()));
  return r;
}
Shape drop_dim(Shape s, int64_t dim) {
  s.erase(s.begin() + dim);
  return s;
}
}  // namespace

// d max(x, dim)/dx = g at the (first) argmax, 0 elsewhere.
Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  MaxResult r = max_raw(x, dim, "max");
  int64_t nd = normalize_dim(dim, x.dim(), "max");
  Tensor values = keepdim ? r.values : reshape(r.values, drop_dim(x.shape(), nd));
  Shape xs = x.shape();
  Tensor index = r.index;
  ReduceDims d = r.d;
  return record("max", values, {x}, [xs, index, d](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = Tensor::empty(xs, g.dtype(), g.device());
    if (gx.numel() > 0)
      detail::backend_of(g).reduce_max_backward(g.dtype(), g.raw_data(), static_cast<const int32_t*>(index.raw_data()),
                                                d, gx.raw_data());
    return TensorList{gx};
  });
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  MaxResult r = max_raw(x, dim, "argmax");
  if (keepdim) return r.index;
  Tensor idx = r.index.detach();
  idx.impl()->shape = drop_dim(x.shape(), normalize_dim(dim, x.dim(), "argmax"));
  return idx;
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  SL_CHECK(lead >= 0, "sum_to_shape: cannot reduce shape {} to the larger rank of {}", shape_str(x.shape()),
           shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
      continue;
    }
    int64_t want = shape[static_cast<size_t>(d - lead)], have = x.shape()[static_cast<size_t>(d)];
    if (want == have) continue;
    SL_CHECK(want == 1, "sum_to_shape: shape {} is not a broadcast of {}", shape_str(x.shape()), shape_str(shape));
    dims.push_back(d);
  }
  Tensor s = dims.empty() ? x : sum(x, dims, true);
  return reshape(s, shape);
}

}  // namespace sl
