// autograd_hooks.cpp — Tensor.register_post_accumulate_grad_hook (PyTorch's name and
// contract; see Note [Post-accumulate-grad hooks] in csrc/autograd/autograd_meta.h) and the
// handle it returns (.remove(), usable as a context manager); AccumulateGrad.variable and
// Tensor._impl_id, with which DistributedDataParallel finds the parameters a graph uses.
//
// Layout: the Python callable and a weak reference to the Python tensor object live in
// shared_ptrs whose deleters take the GIL, because the C++ hook (and so they) may be
// destroyed by whichever thread drops the tensor's last reference. The hook is called with
// the Python object the user registered it on (a Parameter stays a Parameter) while that
// object lives, otherwise with a fresh Tensor of the same leaf.
#include <memory>

#include "autograd/autograd_meta.h"
#include "autograd/node.h"
#include "bindings/bindings.h"

namespace nn::bind {

namespace {

// A py::object that may be released without the GIL held.
std::shared_ptr<py::object> gil_safe(py::object obj) {
  return std::shared_ptr<py::object>(new py::object(std::move(obj)), [](py::object* p) {
    if (!Py_IsInitialized()) return;  // interpreter shut down: leak rather than touch it
    py::gil_scoped_acquire gil;
    delete p;
  });
}

struct PostAccumulateGradHookHandle {
  std::weak_ptr<TensorImpl> leaf;
  uint64_t id = 0;

  bool remove() {
    TensorImplPtr impl = leaf.lock();
    if (!impl) return false;
    leaf.reset();
    return autograd::remove_post_accumulate_grad_hook(Tensor(impl), id);
  }
};

}  // namespace

void bind_autograd_hooks(py::module_& m) {
  py::class_<PostAccumulateGradHookHandle>(m, "PostAccumulateGradHookHandle")
      .def_readonly("id", &PostAccumulateGradHookHandle::id)
      .def("remove", [](PostAccumulateGradHookHandle& h) { h.remove(); },
           "Removes the hook (a no-op when it was already removed or the tensor is gone).")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PostAccumulateGradHookHandle& h, py::args) { h.remove(); });

  // AccumulateGrad.variable (PyTorch's name): the leaf a graph's AccumulateGrad node writes,
  // so that a walk over grad_fn.next_functions finds the parameters an output depends on.
  py::class_<autograd::Node, std::shared_ptr<autograd::Node>> node =
      py::reinterpret_borrow<py::class_<autograd::Node, std::shared_ptr<autograd::Node>>>(m.attr("Node"));
  node.def_property_readonly("variable", [](const autograd::Node& n) -> py::object {
    const auto* acc = dynamic_cast<const autograd::AccumulateGrad*>(&n);
    if (acc == nullptr) throw py::attribute_error("'" + n.name() + "' node has no attribute 'variable'");
    return py::cast(Tensor(acc->leaf()));
  });

  py::class_<Tensor> cls = py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"));
  // The identity of the tensor itself (not of its storage): equal for two Python objects of one tensor.
  cls.def_property_readonly("_impl_id", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.impl()); });
  cls.def("register_post_accumulate_grad_hook", [](py::object self, py::object hook) {
    if (!PyCallable_Check(hook.ptr()))
      throw py::type_error("register_post_accumulate_grad_hook: the hook must be callable, got " +
                           std::string(py::str(py::type::handle_of(hook).attr("__name__"))));
    const Tensor& t = self.cast<const Tensor&>();
    std::shared_ptr<py::object> fn = gil_safe(hook);
    std::shared_ptr<py::object> self_ref = gil_safe(py::weakref(self));
    autograd::PostAccumulateGradHook cpp_hook = [fn, self_ref](const Tensor& leaf) {
      py::gil_scoped_acquire gil;
      py::object target = (*self_ref)();
      if (target.is_none()) target = py::cast(leaf);
      py::object result = (*fn)(target);
      if (!result.is_none())
        throw py::value_error("register_post_accumulate_grad_hook: a post accumulate grad hook must return "
                              "None (modify tensor.grad in place instead)");
    };
    PostAccumulateGradHookHandle handle;
    handle.id = autograd::add_post_accumulate_grad_hook(t, std::move(cpp_hook));
    handle.leaf = t.impl_ptr();
    return handle;
  }, py::arg("hook"),
     "Registers hook(tensor), run after each backward has accumulated this leaf's .grad; returns a handle "
     "whose .remove() unregisters it.");
}

}  // namespace nn::bind
