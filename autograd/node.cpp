#include <utility>

#include "autograd/function.h"
#include "autograd/node.h"

namespace sl {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool enabled) { g_grad_enabled = enabled; }

Tensor record(const char* name, Tensor out, const TensorList& inputs, BackwardFn backward) {
  if (!grad_enabled()) return out;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->backward = std::move(backward);
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) {
      const auto& meta = t.impl()->autograd;
      if (meta->grad_fn) e.fn = meta->grad_fn; else e.leaf = meta;
    }
    node->next.push_back(std::move(e));
    node->input_shapes.push_back(t.defined() ? t.shape() : Shape{});
  }
  auto meta = std::make_shared<AutogradMeta>();
  meta->requires_grad = true;
  meta->grad_fn = std::move(node);
  out.impl()->autograd = std::move(meta);
  return out;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>(*impl_);
  impl->autograd.reset();
  return Tensor(std::move(impl));
}

bool Tensor::requires_grad() const {
  const auto& meta = checked().autograd;
  return meta && meta->requires_grad;
}

Tensor& Tensor::requires_grad_(bool requires) {
  auto& meta = impl_->autograd;
  SL_CHECK(!(meta && meta->grad_fn), "requires_grad_: only leaf tensors can change requires_grad "
                                     "(this one was produced by an op; use detach() first)");
  if (requires) {
    check_floating("requires_grad_", *this);
    if (!meta) meta = std::make_shared<AutogradMeta>();
    meta->requires_grad = true;
  } else if (meta) {
    meta->requires_grad = false;
  }
  return *this;
}

bool Tensor::is_leaf() const {
  const auto& meta = checked().autograd;
  return !meta || !meta->grad_fn;
}

Tensor Tensor::grad() const {
  const auto& meta = checked().autograd;
  return meta ? meta->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) const {
  auto& meta = impl_->autograd;
  SL_CHECK(meta, "set_grad: the tensor does not require grad");
  if (grad.defined())
    SL_CHECK(grad.shape() == shape() && grad.dtype() == dtype(), "set_grad: gradient {} {} does not match tensor {} {}",
             shape_str(grad.shape()), grad.dtype(), shape_str(shape()), dtype());
  meta->grad = grad;
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const { sl::backward(*this, grad, retain_graph); }

}  // namespace sl
