// Matrix products on the backend GEMM.
//   C = A B:        dA = dC B^T,  dB = A^T dC       (a shared 2-D side sums over the batch)
//   y = x W^T + b:  dx = dy W,    dW = dy^T x,  db = sum of dy over rows
#include "autograd/ops/internal.h"

namespace sl {

namespace {

struct GemmSide {
  const Tensor* t;
  bool trans;
  int64_t ld, stride;  // stride 0: the same matrix for every batch entry
};

// out[b] = op(A[b]) op(B[b]) for b < batch; m x n result with inner size k.
void gemm_into(Tensor& out, const GemmSide& a, const GemmSide& b, int64_t m, int64_t n, int64_t k, int64_t batch) {
  if (out.numel() == 0) return;
  detail::backend_of(out).gemm(out.dtype(), a.trans, b.trans, m, n, k, 1.0, a.t->raw_data(), a.ld, a.stride,
                               b.t->raw_data(), b.ld, b.stride, 0.0, out.raw_data(), n, m * n, batch);
}

void check_matmul_inputs(const char* op, const Tensor& a, const Tensor& b) {
  check_floating(op, a);
  SL_CHECK(a.dtype() == b.dtype(), "{}: dtypes differ ({} and {})", op, a.dtype(), b.dtype());
  check_same_device(op, a, b);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul_inputs("matmul", a, b);
  SL_CHECK((a.dim() == 2 || a.dim() == 3) && (b.dim() == 2 || b.dim() == 3),
           "matmul: expected 2-D or 3-D tensors, got shapes {} and {}", shape_str(a.shape()), shape_str(b.shape()));
  int64_t m = a.size(-2), k = a.size(-1), k2 = b.size(-2), n = b.size(-1);
  SL_CHECK(k == k2, "matmul: shapes {} and {} are not compatible (inner sizes {} and {} differ)", shape_str(a.shape()),
           shape_str(b.shape()), k, k2);
  int64_t ba = a.dim() == 3 ? a.size(0) : 1, bb = b.dim() == 3 ? b.size(0) : 1;
  SL_CHECK(a.dim() == 2 || b.dim() == 2 || ba == bb, "matmul: batch sizes of {} and {} differ",
           shape_str(a.shape()), shape_str(b.shape()));
  int64_t batch = std::max(ba, bb);
  bool batched = a.dim() == 3 || b.dim() == 3;
  Shape os = batched ? Shape{batch, m, n} : Shape{m, n};
  Tensor out = Tensor::empty(os, a.dtype(), a.device());
  int64_t sa = a.dim() == 3 ? m * k : 0, sb = b.dim() == 3 ? k * n : 0;
  gemm_into(out, {&a, false, k, sa}, {&b, false, n, sb}, m, n, k, batch);
  Tensor ad = b.requires_grad() ? a.detach() : Tensor();
  Tensor bd = a.requires_grad() ? b.detach() : Tensor();
  bool a_shared = a.dim() == 2 && batched, b_shared = b.dim() == 2 && batched;
  return record("matmul", out, {a, b}, [=](const Tensor& g, const std::vector<bool>& needs) {
    TensorList grads(2);
    Shape full_a = batched ? Shape{batch, m, k} : Shape{m, k};
    Shape full_b = batched ? Shape{batch, k, n} : Shape{k, n};
    if (needs[0]) {  // dA = dC B^T, per batch entry; summed if A was shared
      Tensor ga = Tensor::empty(full_a, g.dtype(), g.device());
      gemm_into(ga, {&g, false, n, m * n}, {&bd, true, n, sb}, m, k, n, batch);
      grads[0] = a_shared ? sum(ga, {0}) : ga;
    }
    if (needs[1]) {  // dB = A^T dC
      Tensor gb = Tensor::empty(full_b, g.dtype(), g.device());
      gemm_into(gb, {&ad, true, k, sa}, {&g, false, n, m * n}, k, n, m, batch);
      grads[1] = b_shared ? sum(gb, {0}) : gb;
    }
    return grads;
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_matmul_inputs("linear", x, weight);
  SL_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out, in], got {}", shape_str(weight.shape()));
  SL_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1),
           "linear: input {} does not match weight {} (expected last dimension {})", shape_str(x.shape()),
           shape_str(weight.shape()), weight.size(1));
  int64_t in = weight.size(1), out_f = weight.size(0), rows = x.numel() / std::max<int64_t>(in, 1);
  Shape os = x.shape();
  os.back() = out_f;
  Tensor y = Tensor::empty(os, x.dtype(), x.device());
  gemm_into(y, {&x, false, in, 0}, {&weight, true, in, 0}, rows, out_f, in, 1);
  Tensor xd = weight.requires_grad() ? x.detach() : Tensor();
  Tensor wd = x.requires_grad() ? weight.detach() : Tensor();
  Shape xs = x.shape();
  y = record("linear", y, {x, weight}, [=](const Tensor& g, const std::vector<bool>& needs) {
    TensorList grads(2);
    if (needs[0]) {  // dx = dy W
      Tensor gx = Tensor::empty(xs, g.dtype(), g.device());
      gemm_into(gx, {&g, false, out_f, 0}, {&wd, false, in, 0}, rows, in, out_f, 1);
      grads[0] = gx;
    }
    if (needs[1]) {  // dW = dy^T x
      Tensor gw = Tensor::empty({out_f, in}, g.dtype(), g.device());
      gemm_into(gw, {&g, true, out_f, 0}, {&xd, false, in, 0}, out_f, in, rows, 1);
      grads[1] = gw;
    }
    return grads;
  });
  if (!bias.defined()) return y;
  SL_CHECK(bias.dim() == 1 && bias.size(0) == out_f, "linear: bias {} does not match {} output features",
           shape_str(bias.shape()), out_f);
  return add(y, bias);
}

}  // namespace sl
