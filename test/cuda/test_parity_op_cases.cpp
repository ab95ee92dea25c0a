// Every case of the op-case table (opcases/) on the device under test against the CPU, forward and
// every gradient, in f32 and (where the op runs in it) f64. Ops that only move values (shapes,
// shifts, pooling, the quantizers' levels) must match bit for bit where their case says so.
#include "opcases/op_case.h"
#include "parity.h"

using namespace sl;
using namespace sl::parity;
using namespace sl::opcases;

TEST_CASE("parity: every op of the op-case table, forward and gradients", "[parity][opcases]") {
  for (const OpCase& c : op_cases()) {
    for (DType dt : {DType::f32, DType::f64}) {
      if (dt == DType::f64 && !c.f64) continue;
      INFO(c.name << " in " << dtype_name(dt));
      double tol = dt == DType::f32 ? c.parity_tol : std::min(c.parity_tol, kTolF64);
      std::string m = compare_runs(run_case(c, dt, Device::cpu), run_case(c, dt, device()), tol);
      INFO(m);
      CHECK(m.empty());
    }
  }
}
