// backward(): walks the graph from the root in reverse topological order (a node runs once every
// node that consumes its output has delivered its gradient), sums gradients that meet, reduces
// broadcast gradients to the input's shape, and accumulates into leaves.
#include <unordered_map>
#include <utility>
#include <vector>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "engine/factory.h"

namespace sl {

namespace {

// Leaves keep a private first gradient: a tensor no one else holds (most are fresh from a backward
// closure) is taken as it is; a shared one (closures may hand the same tensor to several inputs, or
// pass on their own gradient) is copied. Later gradients are added out of place.
void accumulate_leaf(AutogradMeta& leaf, Tensor g) {
  if (leaf.grad.defined())
    leaf.grad = add(leaf.grad, g);
  else
    leaf.grad = g.is_sole_owner() ? std::move(g) : clone(g);
}

// Brings a gradient back to the input's shape (undoing broadcasting) and checks it.
Tensor fit_gradient(const Node& node, size_t i, Tensor g) {
  const Shape& want = node.input_shapes[i];
  Tensor r = g.shape() == want ? std::move(g) : sum_to_shape(g, want);
  SL_CHECK(r.shape() == want, "backward of {}: gradient for input {} has shape {}, expected {}", node.name, i,
           shape_str(r.shape()), shape_str(want));
  return r;
}

}  // namespace

void backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  SL_CHECK(root.requires_grad(),
           "backward: the tensor does not require grad (none of the inputs of its graph has requires_grad set)");
  Tensor g = grad;
  if (!g.defined()) {
    SL_CHECK(root.numel() == 1,
             "backward: a gradient can be created implicitly only for a scalar output, got shape {}; "
             "pass the gradient explicitly",
             shape_str(root.shape()));
    g = ones_like(root);
  }
  SL_CHECK(g.shape() == root.shape() && g.dtype() == root.dtype() && g.device() == root.device(),
           "backward: gradient {} {} {} does not match the output {} {} {}", shape_str(g.shape()), g.dtype(),
           g.device(), shape_str(root.shape()), root.dtype(), root.device());
  NoGradGuard no_grad;
  const auto& meta = root.impl()->autograd;
  if (!meta->grad_fn) {
    accumulate_leaf(*meta, g);
    if (meta->grad_final_hook) meta->grad_final_hook();
    return;
  }

  // Count, for every reachable node and leaf, how many edges point at it.
  std::unordered_map<Node*, int> pending;
  std::unordered_map<AutogradMeta*, int> leaf_pending;
  std::vector<Node*> stack{meta->grad_fn.get()};
  pending[meta->grad_fn.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (e.leaf) ++leaf_pending[e.leaf.get()];
      if (!e.fn) continue;
      auto it = pending.find(e.fn.get());
      if (it == pending.end()) {
        pending[e.fn.get()] = 1;
        stack.push_back(e.fn.get());
      } else {
        ++it->second;
      }
    }
  }

  std::unordered_map<Node*, Tensor> grads;
  grads[meta->grad_fn.get()] = g;
  std::vector<Node*> ready{meta->grad_fn.get()};
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor gout = std::move(grads[n]);
    grads.erase(n);
    TensorList gin(n->next.size());
    if (gout.defined()) {  // undefined: no gradient reached this node, so its inputs get none from it
      SL_CHECK(n->backward, "backward: the graph through {} was already freed by an earlier backward(); "
                            "pass retain_graph=true to call backward twice",
               n->name);
      std::vector<bool> needs(n->next.size());
      for (size_t i = 0; i < needs.size(); ++i) needs[i] = n->next[i].defined();
      gin = n->backward(gout, needs);
      SL_CHECK(gin.size() == n->next.size(), "backward of {} returned {} gradients for {} inputs", n->name,
               gin.size(), n->next.size());
    }
    if (!retain_graph) n->backward = nullptr;  // frees the tensors the closure saved
    for (size_t i = 0; i < gin.size(); ++i) {
      const Edge& e = n->next[i];
      if (!e.defined()) continue;
      if (gin[i].defined()) {
        Tensor gi = fit_gradient(*n, i, std::move(gin[i]));
        if (e.fn) {
          Tensor& acc = grads[e.fn.get()];
          acc = acc.defined() ? add(acc, gi) : std::move(gi);
        } else {
          accumulate_leaf(*e.leaf, std::move(gi));
        }
      }
      if (e.fn && --pending[e.fn.get()] == 0) ready.push_back(e.fn.get());
      if (e.leaf && --leaf_pending[e.leaf.get()] == 0 && e.leaf->grad_final_hook) e.leaf->grad_final_hook();
    }
  }
}

}  // namespace sl
