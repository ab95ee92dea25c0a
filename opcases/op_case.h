// The op-case table: every differentiable op once, with the shapes that reach its code paths and
// its tolerances (ggml's test-backend-ops idea). Every check runs from this one list:
//   gradcheck (f64 finite differences), f32 against f64, 1 thread against N threads bit for bit
//   (test/test_op_cases.cpp), CPU against CUDA (test/cuda/test_parity_op_cases.cpp), and
//   `shiftlab bench ops` (tools/bench_ops.cpp). Adding an op is adding its cases here.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "engine/shape.h"

namespace sl::opcases {

// How an input's values are drawn (always from f64 values rounded to f32, so every dtype and every
// mode sees the same numbers).
enum class Values {
  uniform,         // uniform in [lo, hi)
  away_from_zero,  // uniform in [lo, hi), then moved 0.2 away from zero (kinks of abs, relu, sign)
  shift_friendly,  // +-2^(k + f), integer k in [-6, -1], |f| <= 0.4: never near a power-of-two rounding step
  labels,          // i32 class labels in [0, classes), no gradient
};

struct Input {
  Shape shape;
  double lo = -1, hi = 1;
  Values values = Values::uniform;
  bool requires_grad = true;
  int64_t classes = 0;  // Values::labels only
};

// How the op's backward is defined: exactly (finite differences must agree) or by a declared
// surrogate (straight-through estimators of the quantizers: finite differences see a step
// function, so gradcheck is skipped; the other modes still compare the surrogate's values).
enum class Backward { exact, surrogate };

// Builds the op's output from its inputs. Ops whose differentiable state lives in a module (the
// quantizers' latents) append those tensors to `leaves`: their gradients are compared too.
using OpFn = std::function<Tensor(const TensorList& inputs, TensorList& leaves)>;

struct OpCase {
  std::string op;    // the op family, what `--filter` and the test names match: "conv2d"
  std::string name;  // unique within the table: "conv2d 3x3 stride 2 groups 2"
  std::vector<Input> inputs;
  OpFn fn;
  Backward backward = Backward::exact;
  bool f64 = true;             // false: the op keeps f32 state, so it runs in f32 only
  double f32_tol = 1e-4;       // f32 against f64, relative (see compare)
  double parity_tol = 1e-4;    // CUDA against CPU in f32 (f64: 1e-10); 0 means bit for bit
  double grad_atol = 1e-5, grad_rtol = 1e-3;  // gradcheck
};

// The whole table (built once).
const std::vector<OpCase>& op_cases();
// The cases whose op or name contains `filter` (all for "").
std::vector<const OpCase*> select_cases(const std::string& filter);

// The case's inputs as leaves (where they require a gradient) of `dtype` on `device`.
TensorList make_inputs(const OpCase& c, DType dtype, Device device);
// The fixed random tensor the output's gradient is seeded with (every output element matters).
Tensor backward_seed(const Tensor& out);

// One forward and backward: the output and the gradients of every input that requires one, then of
// every leaf the op reported (undefined where no gradient arrived), all detached.
struct OpRun {
  Tensor out;
  TensorList grads;
  std::vector<std::string> grad_names;  // "input 0", "leaf 1", for messages
};
OpRun run_case(const OpCase& c, DType dtype, Device device);
// The same on given inputs (already made by make_inputs).
OpRun run_case(const OpCase& c, const TensorList& inputs);

// "" when got matches want: |want - got| <= tol * (|want| + mean |want|) element by element
// (relative for typical elements, without demanding it of cancellation's tiny ones), NaN for NaN,
// infinities exactly; tol 0 demands the same bits. Otherwise the count and the worst element.
std::string compare(const Tensor& want, const Tensor& got, double tol);

// Every check of one run against another: output, then each gradient. "" when all match.
std::string compare_runs(const OpRun& want, const OpRun& got, double tol);

}  // namespace sl::opcases
