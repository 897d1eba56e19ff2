// bindings.h — shared declarations of the pybind11 glue (nn_core._C). The bindings only
// convert Python objects to core types and back, release the GIL around large kernels,
// and map exceptions; all logic lives in csrc/.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "core/tensor.h"
#include "ops/ops.h"
#include "ops/overloads.h"

namespace py = pybind11;

namespace nn::bind {

// Releases the GIL for the lifetime of the guard when the work is large enough that
// other Python threads should run meanwhile (small ops keep it: releasing costs ~100 ns).
class MaybeReleaseGil {
 public:
  explicit MaybeReleaseGil(int64_t work) {
    if (work >= kThreshold) release_.emplace();
  }
  static constexpr int64_t kThreshold = 1 << 15;

 private:
  std::optional<py::gil_scoped_release> release_;
};

// A Python operand (Tensor, bool, int, float, numpy scalar) as a Tensor; Python scalars
// become wrapped numbers (they don't widen a tensor's dtype). Returns false when `obj`
// is none of these (the operator then returns NotImplemented).
bool to_operand(py::handle obj, Tensor& out);
// Any array-like (Tensor, numpy array, nested lists, scalars) as a new Tensor.
Tensor tensor_from_object(py::handle obj, std::optional<DType> dtype);
std::vector<TensorIndex> parse_index(py::handle key);

void bind_tensor(py::module_& m);
void bind_functions(py::module_& m);
void bind_misc(py::module_& m);  // misc.cpp: fmod, remainder, %
void bind_interop(py::module_& m);
void bind_conv(py::module_& m);
void bind_attention(py::module_& m);
void bind_optim(py::module_& m);
void bind_checkpoint(py::module_& m);
void bind_runtime_metrics(py::module_& m);
void bind_runtime(py::module_& m);
void bind_runtime_monitor(py::module_& m);  // runtime_monitor.cpp: drift monitor, profiles
void bind_quantized(py::module_& m);
void bind_autograd_hooks(py::module_& m);  // autograd_hooks.cpp: register_post_accumulate_grad_hook
void bind_generated_ops(py::module_& m);  // build/generated/bindings_generated.cpp

}  // namespace nn::bind
