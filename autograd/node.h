// The autograd graph. A Node is created by an op when any input requires grad; it keeps only what
// its backward needs (captured by the closure) plus edges to the nodes (or leaves) of its inputs.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace sl {

class Node;
using TensorList = std::vector<Tensor>;

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;                    // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;  // null for leaves
  // A leaf's: called by backward() once every path from the root to this leaf has delivered its
  // gradient (grad is final for that backward), e.g. to start its all-reduce early. Not called for
  // leaves the root does not reach.
  std::function<void()> grad_final_hook;
};

// Where the gradient of one input goes: the node that produced it, or the leaf that accumulates it.
// Neither is set when that input does not require grad.
struct Edge {
  std::shared_ptr<Node> fn;
  std::shared_ptr<AutogradMeta> leaf;
  bool defined() const { return fn || leaf; }
};

// Returns one gradient per input (an undefined Tensor where needs[i] is false or the gradient is
// zero). Gradients may have the broadcast output's shape; the engine sums them back to the input's.
using BackwardFn = std::function<TensorList(const Tensor& grad_out, const std::vector<bool>& needs)>;

class Node {
 public:
  const char* name = "";
  std::vector<Edge> next;           // one per input
  std::vector<Shape> input_shapes;  // to reduce broadcast gradients and to check their shape
  BackwardFn backward;              // cleared after use unless the graph is retained
};

// Grad mode: when off, ops record no graph (evaluation, optimizer steps, backward itself).
bool grad_enabled();
void set_grad_enabled(bool enabled);

class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Runs backward from `root`; see Tensor::backward.
void backward(const Tensor& root, const Tensor& grad = Tensor(), bool retain_graph = false);

}  // namespace sl
