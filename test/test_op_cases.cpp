// The op-case table (opcases/) in its CPU modes: gradcheck in f64, f32 against f64 (which carries
// gradcheck's verdict over to the f32 kernels: implicit GEMMs, SIMD loops), and results bit for
// bit equal on 1 and on N threads. CPU against CUDA is test/cuda/test_parity_op_cases.cpp.
#include <catch2/catch.hpp>
#include <thread>

#include "autograd/gradcheck.h"
#include "engine/threads.h"
#include "opcases/op_case.h"

using namespace sl;
using namespace sl::opcases;

namespace {

// Each input's elements checked by finite differences, evenly spread: enough to meet every tap,
// channel and tail of the table's shapes, few enough that a large input stays cheap.
constexpr int64_t kGradcheckElements = 96;

}  // namespace

TEST_CASE("op cases: the table covers every op family once, with unique names", "[opcases]") {
  const std::vector<OpCase>& cases = op_cases();
  CHECK(cases.size() >= 100);
  for (const char* op : {"add", "mul", "div", "pow", "exp", "log", "relu", "clamp", "sum", "mean", "var", "max",
                         "reshape", "slice", "cat", "permute", "matmul", "linear", "conv2d", "shift2d", "shift_conv2d",
                         "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm", "batch_norm_relu",
                         "batch_norm_add_relu",
                         "standardize", "softmax", "log_softmax", "cross_entropy", "dropout", "deepshift-q",
                         "deepshift-ps", "fixed-point", "apot", "uniform", "s3", "denseshift"}) {
    INFO(op);
    bool found = false;
    for (const OpCase& c : cases) found = found || c.op == op;
    CHECK(found);
  }
  CHECK(select_cases("conv2d").size() > 20);
  CHECK(select_cases("no such op").empty());
}

TEST_CASE("op cases: gradcheck in f64", "[opcases][gradcheck]") {
  int checked = 0;
  for (const OpCase& c : op_cases()) {
    if (c.backward != Backward::exact || !c.f64) continue;
    INFO(c.name);
    TensorList inputs = make_inputs(c, DType::f64, Device::cpu);
    GradcheckOptions o;
    o.atol = c.grad_atol;
    o.rtol = c.grad_rtol;
    o.max_elements = kGradcheckElements;
    GradcheckResult r = gradcheck(
        [&c](const TensorList& t) {
          TensorList leaves;
          return c.fn(t, leaves);
        },
        inputs, o);
    INFO(r.message);
    CHECK(r.ok);
    ++checked;
  }
  CHECK(checked >= 80);
}

TEST_CASE("op cases: f32 results and gradients agree with f64", "[opcases][f32]") {
  for (const OpCase& c : op_cases()) {
    if (!c.f64) continue;
    INFO(c.name);
    std::string m = compare_runs(run_case(c, DType::f64, Device::cpu), run_case(c, DType::f32, Device::cpu), c.f32_tol);
    INFO(m);
    CHECK(m.empty());
  }
}

TEST_CASE("op cases: 1 thread and N threads give the same bits", "[opcases][determinism]") {
  int many = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  for (DType dt : {DType::f32, DType::f64}) {
    for (const OpCase& c : op_cases()) {
      if (dt == DType::f64 && !c.f64) continue;
      INFO(c.name << " in " << dtype_name(dt) << ", 1 thread against " << many);
      OpRun one, all;
      {
        ThreadLimit limit(1);
        one = run_case(c, dt, Device::cpu);
      }
      {
        ThreadLimit limit(many);
        all = run_case(c, dt, Device::cpu);
      }
      std::string m = compare_runs(one, all, 0);
      INFO(m);
      CHECK(m.empty());
    }
  }
}
