// autograd_meta.cpp — AutogradMeta creation and the accessors declared in autograd_meta.h.
#include "autograd/autograd_meta.h"

#include "autograd/node.h"

namespace nn::autograd {

AutogradMeta& materialize_autograd_meta(TensorImpl* impl) {
  if (impl->autograd_meta == nullptr) impl->autograd_meta = std::make_unique<AutogradMeta>();
  return *autograd_meta(impl);
}

const std::shared_ptr<Node>& grad_fn(const Tensor& t) {
  static const std::shared_ptr<Node> kNone;
  const AutogradMeta* meta = autograd_meta(t);
  return meta != nullptr ? meta->grad_fn : kNone;
}

Tensor grad(const Tensor& t) {
  const AutogradMeta* meta = autograd_meta(t);
  return meta != nullptr ? meta->grad : Tensor();
}

void set_grad(const Tensor& t, const Tensor& g) {
  if (g.defined()) {
    NN_CHECK(g.sizes() == t.sizes(), ShapeError, "assigning .grad: gradient shape ", g.sizes(),
             " does not match the tensor's shape ", t.sizes());
    NN_CHECK(g.dtype() == t.dtype(), DTypeError, "assigning .grad: gradient dtype ", g.dtype(),
             " does not match the tensor's dtype ", t.dtype());
  } else if (autograd_meta(t) == nullptr) {
    return;  // clearing a gradient that was never there
  }
  materialize_autograd_meta(t.impl()).grad = g;
}

void set_requires_grad(const Tensor& t, bool requires_grad) {
  NN_CHECK(!(requires_grad && !is_floating(t.dtype())), DTypeError,
           "requires_grad_: only floating-point tensors can require gradients, got ", t.dtype());
  const std::shared_ptr<Node>& fn = grad_fn(t);
  NN_CHECK(fn == nullptr || requires_grad, RuntimeError, "requires_grad_(False): this tensor is not a leaf (it was "
           "produced by ", fn->name(), "); use .detach() instead");
  if (!requires_grad && autograd_meta(t) == nullptr) return;
  materialize_autograd_meta(t.impl()).requires_grad_ = requires_grad;
}

void set_history(const Tensor& t, std::shared_ptr<Node> fn, uint32_t output_nr) {
  AutogradMeta& meta = materialize_autograd_meta(t.impl());
  meta.grad_fn = std::move(fn);
  meta.output_nr = output_nr;
  meta.requires_grad_ = true;
}

void copy_history(const Tensor& t, const Tensor& src) {
  const AutogradMeta* from = autograd_meta(src);
  if (from == nullptr) {
    clear_history(t);
    return;
  }
  AutogradMeta& meta = materialize_autograd_meta(t.impl());
  meta.grad_fn = from->grad_fn;
  meta.output_nr = from->output_nr;
  meta.requires_grad_ = from->requires_grad_;
}

void clear_history(const Tensor& t) {
  AutogradMeta* meta = autograd_meta(t);
  if (meta == nullptr) return;
  meta->grad_fn = nullptr;
  meta->output_nr = 0;
  meta->requires_grad_ = false;
}

}  // namespace nn::autograd
