// misc.cpp — Python glue of the binary rows fmod and remainder (csrc/ops/ops.schema): the
// module functions nn_core._C.fmod / remainder (second operand a Tensor or a Python
// number, which becomes a wrapped number as in PyTorch's promotion), the Tensor methods,
// their in-place forms, and the `%` operators (remainder, as torch.Tensor.__mod__).
#include "bindings/bindings.h"

namespace nn::bind {
namespace {

template <OpId op>
Tensor binary_with_number(const Tensor& x, py::handle other) {
  Tensor o;
  if (!to_operand(other, o)) o = tensor_from_object(other, std::nullopt);
  MaybeReleaseGil gil(x.numel());
  return binary_op(op, x, o);
}

template <OpId op, bool reflected>
py::object mod_operator(const Tensor& self, py::handle other) {
  Tensor o;
  if (!to_operand(other, o)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
  Tensor result;
  {
    MaybeReleaseGil gil(self.numel());
    result = reflected ? binary_op(op, o, self) : binary_op(op, self, o);
  }
  return py::cast(std::move(result));
}

template <OpId op>
py::object inplace(py::object self_obj, py::handle other) {
  const Tensor& self = self_obj.cast<const Tensor&>();
  Tensor o;
  if (!to_operand(other, o)) o = tensor_from_object(other, std::nullopt);
  {
    MaybeReleaseGil gil(self.numel());
    binary_op_(op, self, o);
  }
  return self_obj;
}

}  // namespace

void bind_misc(py::module_& m) {
  py::class_<Tensor> cls = py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"));
  m.def("fmod", &binary_with_number<OpId::fmod>, py::arg("input"), py::arg("other"));
  m.def("remainder", &binary_with_number<OpId::remainder>, py::arg("input"), py::arg("other"));
  cls.def("fmod", &binary_with_number<OpId::fmod>, py::arg("other"));
  cls.def("remainder", &binary_with_number<OpId::remainder>, py::arg("other"));
  cls.def("fmod_", &inplace<OpId::fmod>, py::arg("other"));
  cls.def("remainder_", &inplace<OpId::remainder>, py::arg("other"));
  cls.def("__mod__", &mod_operator<OpId::remainder, false>);
  cls.def("__rmod__", &mod_operator<OpId::remainder, true>);
  cls.def("__imod__", [](py::object self, py::handle other) -> py::object {
    Tensor o;
    if (!to_operand(other, o)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return inplace<OpId::remainder>(self, other);
  });
}

}  // namespace nn::bind
