// How an op joins the graph. The op computes `out` with backend kernels, then calls record() with
// its inputs and a closure that maps the output gradient to input gradients.
//
// Rule for closures: capture only what the backward needs, and never `out` itself (that would be
// a reference cycle out -> node -> closure -> out); capture `out.detach()` instead.
#pragma once
#include "autograd/node.h"

namespace sl {

// Returns `out`, attached to a new node named `name` when grad mode is on and an input requires grad.
Tensor record(const char* name, Tensor out, const TensorList& inputs, BackwardFn backward);

}  // namespace sl
