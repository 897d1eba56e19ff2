// autograd_meta.h — AutogradMeta, the autograd state of one tensor (core's TensorImpl holds
// it through AutogradMetaInterface: see Note [Autograd meta] in core/tensor.h), and the
// accessors the ops and bindings use: grad_fn, is_leaf, grad, set_grad, set_requires_grad,
// and the history setters used by record() and the in-place ops.
//
// A tensor gets its meta the first time it requires grad or receives history
// (materialize_autograd_meta); a plain tensor never allocates one.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nn::autograd {

struct Node;

// Note [Post-accumulate-grad hooks]: a hook registered on a leaf runs once per backward,
// right after the engine's AccumulateGrad has stored the new gradient in the leaf's .grad
// (PyTorch's Tensor.register_post_accumulate_grad_hook). It receives the leaf itself, so
// it reads the gradient through .grad. Hooks run in registration order on the thread that
// runs backward; an exception thrown by a hook stops the backward and propagates to its
// caller. Data-parallel training starts gradient all-reduces from these hooks.
using PostAccumulateGradHook = std::function<void(const Tensor& leaf)>;

struct AutogradMeta final : AutogradMetaInterface {
  bool requires_grad_ = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  uint32_t output_nr = 0;         // which output of grad_fn this tensor is
  Tensor grad;                    // accumulated gradient (leaves)
  std::weak_ptr<Node> grad_accumulator;  // the leaf's AccumulateGrad, while a graph holds it
  // (id, hook) pairs in registration order: see Note [Post-accumulate-grad hooks].
  std::vector<std::pair<uint64_t, PostAccumulateGradHook>> post_accumulate_grad_hooks;

  bool requires_grad() const override { return requires_grad_; }
};

// The tensor's meta, or null when it has none. AutogradMeta is the only implementation
// of AutogradMetaInterface, so the cast is static.
inline AutogradMeta* autograd_meta(const TensorImpl* impl) {
  return static_cast<AutogradMeta*>(impl->autograd_meta.get());
}
inline AutogradMeta* autograd_meta(const Tensor& t) { return autograd_meta(t.impl()); }
// The tensor's meta, created (not requiring grad, no history) when it has none.
AutogradMeta& materialize_autograd_meta(TensorImpl* impl);

// Null for leaves and for tensors without history.
const std::shared_ptr<Node>& grad_fn(const Tensor& t);
inline bool is_leaf(const Tensor& t) {
  const AutogradMeta* meta = autograd_meta(t);
  return meta == nullptr || meta->grad_fn == nullptr;
}
// The accumulated gradient (undefined when none).
Tensor grad(const Tensor& t);
// Assigns .grad; g (when defined) must match t's shape and dtype.
void set_grad(const Tensor& t, const Tensor& g);
// Leaves only (use detach() otherwise); only floating-point tensors can require grad.
void set_requires_grad(const Tensor& t, bool requires_grad);

// Registers a hook on the leaf t (which must require grad); returns the id that removes it.
uint64_t add_post_accumulate_grad_hook(const Tensor& t, PostAccumulateGradHook hook);
// Removes the hook with that id; false when t has no such hook (already removed).
bool remove_post_accumulate_grad_hook(const Tensor& t, uint64_t id);
// Runs the leaf's hooks (a copy of the list, so a hook may remove itself).
void run_post_accumulate_grad_hooks(const TensorImplPtr& leaf);

// t becomes output `output_nr` of fn, and requires grad.
void set_history(const Tensor& t, std::shared_ptr<Node> fn, uint32_t output_nr);
// t takes src's history (grad_fn, output number, requires_grad); used when an in-place op
// computed out of place writes its result back into t.
void copy_history(const Tensor& t, const Tensor& src);
// t no longer depends on its history: no grad_fn, no longer requires grad.
void clear_history(const Tensor& t);

}  // namespace nn::autograd
