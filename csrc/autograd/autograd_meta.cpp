// autograd_meta.cpp — AutogradMeta creation and the accessors declared in autograd_meta.h.
#include "autograd/autograd_meta.h"

#include <atomic>

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

uint64_t add_post_accumulate_grad_hook(const Tensor& t, PostAccumulateGradHook hook) {
  static std::atomic<uint64_t> next_hook_id{1};
  NN_CHECK(t.requires_grad(), RuntimeError, "register_post_accumulate_grad_hook: cannot register a hook on a "
           "tensor that doesn't require gradient (shape ", t.sizes(), ")");
  NN_CHECK(is_leaf(t), RuntimeError, "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be "
           "registered on non-leaf tensors (this one was produced by ", grad_fn(t)->name(), ")");
  NN_CHECK(hook != nullptr, ValueError, "register_post_accumulate_grad_hook: the hook is empty");
  const uint64_t id = next_hook_id.fetch_add(1, std::memory_order_relaxed);
  materialize_autograd_meta(t.impl()).post_accumulate_grad_hooks.emplace_back(id, std::move(hook));
  return id;
}

bool remove_post_accumulate_grad_hook(const Tensor& t, uint64_t id) {
  AutogradMeta* meta = autograd_meta(t);
  if (meta == nullptr) return false;
  auto& hooks = meta->post_accumulate_grad_hooks;
  for (auto it = hooks.begin(); it != hooks.end(); ++it) {
    if (it->first == id) {
      hooks.erase(it);
      return true;
    }
  }
  return false;
}

void run_post_accumulate_grad_hooks(const TensorImplPtr& leaf) {
  const AutogradMeta* meta = autograd_meta(leaf.get());
  if (meta == nullptr || meta->post_accumulate_grad_hooks.empty()) return;
  const auto hooks = meta->post_accumulate_grad_hooks;  // a hook may add or remove hooks
  const Tensor leaf_tensor{leaf};
  for (const auto& entry : hooks) entry.second(leaf_tensor);
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
