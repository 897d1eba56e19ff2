// backward.cpp — the op layer's side of autograd: nn::backward (the seed gradient of a
// root, then the engine) and the ops the engine applies to gradients (sum, copy), which
// the op layer installs into the engine (autograd sits below the ops and includes none).
#include "autograd/node.h"
#include "ops/ops.h"

namespace nn {
namespace {
const bool kEngineOpsInstalled = autograd::set_engine_ops(autograd::EngineOps{
    [](const Tensor& a, const Tensor& b) { return add(a, b); },
    [](const Tensor& t) { return clone(t); },
    [](const Tensor& t) { return detach(t); },
});
}  // namespace

void backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  NN_CHECK(root.requires_grad(), RuntimeError,
           "backward: element 0 of tensors does not require grad and does not have a grad_fn");
  Tensor g = gradient;
  if (!g.defined()) {
    NN_CHECK(root.numel() == 1, RuntimeError, "grad can be implicitly created only for scalar outputs; backward of a "
             "tensor of shape ", root.sizes(), " needs a gradient argument of that shape");
    g = ones(root.sizes(), root.dtype());
  } else {
    NN_CHECK(g.sizes() == root.sizes(), ShapeError, "backward: gradient shape ", g.sizes(),
             " does not match the tensor's shape ", root.sizes());
    if (g.dtype() != root.dtype()) g = cast(g, root.dtype());
  }
  autograd::run_backward({root}, {g}, retain_graph);
}
}  // namespace nn
