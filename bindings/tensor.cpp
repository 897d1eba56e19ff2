// tensor.cpp — the Tensor class of nn_core._C: properties, operators and methods.
// Operators are bound here (not in Python) so that `a + b` on small tensors costs one
// pybind11 call; methods with the same name as a module function share its lambda
// (functions.cpp).
#include "autograd/node.h"
#include "bindings/bindings.h"

namespace nn::bind {

namespace {

Tensor operand_or_throw(py::handle obj, const char* op) {
  Tensor t;
  if (!to_operand(obj, t))
    throw py::type_error(std::string(op) + ": unsupported operand of type " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  return t;
}

// Binary operator: returns NotImplemented for foreign operands so Python can try the
// reflected form of the other object.
template <OpId op, bool reflected = false>
py::object binary_operator(const Tensor& self, py::handle other) {
  Tensor o;
  if (!to_operand(other, o)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
  Tensor result;
  {
    MaybeReleaseGil gil(self.numel());  // released only around the kernel, never around py::cast
    result = reflected ? binary_op(op, o, self) : binary_op(op, self, o);
  }
  return py::cast(std::move(result));
}

template <OpId op>
py::object inplace_operator(py::object self_obj, py::handle other) {
  const Tensor& self = self_obj.cast<const Tensor&>();
  Tensor o;
  if (!to_operand(other, o)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
  {
    MaybeReleaseGil gil(self.numel());
    binary_op_(op, self, o);
  }
  return self_obj;
}

template <OpId op>
py::object inplace_method(py::object self_obj, py::handle other) {
  const Tensor& self = self_obj.cast<const Tensor&>();
  Tensor o = operand_or_throw(other, op_info(op).name);
  {
    MaybeReleaseGil gil(self.numel());
    binary_op_(op, self, o);
  }
  return self_obj;
}

template <OpId op>
py::object inplace_unary(py::object self_obj) {
  const Tensor& self = self_obj.cast<const Tensor&>();
  {
    MaybeReleaseGil gil(self.numel());
    unary_op_(op, self);
  }
  return self_obj;
}

// self.add_(other, alpha=...) / sub_: alpha None or the int 1 means "unscaled".
template <void (*fn)(const Tensor&, const Tensor&, const Tensor&)>
py::object inplace_scaled(py::object self_obj, py::handle other, py::handle alpha, const char* name) {
  const Tensor& self = self_obj.cast<const Tensor&>();
  Tensor o = operand_or_throw(other, name);
  const bool unscaled = alpha.is_none() || (py::isinstance<py::int_>(alpha) && alpha.cast<int64_t>() == 1);
  Tensor a = unscaled ? Tensor() : operand_or_throw(alpha, name);
  {
    MaybeReleaseGil gil(self.numel());
    fn(self, o, a);
  }
  return self_obj;
}

py::tuple shape_tuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

}  // namespace

void bind_tensor(py::module_& m) {
  py::class_<autograd::Node, std::shared_ptr<autograd::Node>>(m, "Node")
      .def("name", &autograd::Node::name)
      .def_property_readonly("next_functions", [](const autograd::Node& n) {
        py::list out;
        for (const auto& e : n.next_edges)
          out.append(py::make_tuple(e.node ? py::cast(e.node) : py::none(), e.input_nr));
        return py::tuple(out);
      })
      .def("__repr__", [](const autograd::Node& n) { return "<" + n.name() + ">"; });

  py::class_<Tensor> cls(m, "Tensor", py::dynamic_attr());
  cls.def(py::init([](const Tensor& other) { return Tensor(other.impl_ptr()); }), py::arg("other"))
      .def_property_readonly("_shape", [](const Tensor& t) { return shape_tuple(t.sizes()); })
      .def_property_readonly("dtype", &Tensor::dtype)
      .def_property_readonly("ndim", &Tensor::dim)
      .def_property_readonly("_device_str", [](const Tensor& t) { return t.device().str(); })
      .def("dim", &Tensor::dim)
      .def("numel", &Tensor::numel)
      .def("size", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) return py::none();
        return py::int_(t.size(dim.cast<int64_t>()));
      }, py::arg("dim") = py::none())
      .def("stride", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) return shape_tuple(t.strides());
        return py::int_(t.stride(dim.cast<int64_t>()));
      }, py::arg("dim") = py::none())
      .def("storage_offset", &Tensor::offset)
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_bytes()); })
      .def("element_size", [](const Tensor& t) { return itemsize(t.dtype()); })
      .def_property_readonly("_version", &Tensor::version)
      .def("_storage_id", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.storage().get()); })
      .def("_is_view", [](const Tensor& t) { return t.impl()->is_view; })
      // autograd
      .def_property("requires_grad", &Tensor::requires_grad,
                    [](Tensor& t, bool r) { autograd::set_requires_grad(t, r); })
      .def("requires_grad_", [](py::object self, bool r) {
        autograd::set_requires_grad(self.cast<Tensor&>(), r);
        return self;
      }, py::arg("requires_grad") = true)
      .def_property("grad", [](const Tensor& t) -> py::object {
        Tensor g = autograd::grad(t);
        return g.defined() ? py::cast(g) : py::none();
      }, [](Tensor& t, py::object g) { autograd::set_grad(t, g.is_none() ? Tensor() : g.cast<Tensor>()); })
      .def_property_readonly("grad_fn", [](const Tensor& t) -> py::object {
        const std::shared_ptr<autograd::Node>& fn = autograd::grad_fn(t);
        return fn ? py::cast(fn) : py::none();
      })
      .def_property_readonly("is_leaf", [](const Tensor& t) { return autograd::is_leaf(t); })
      .def("backward", [](const Tensor& t, py::object gradient, bool retain_graph) {
        Tensor g = gradient.is_none() ? Tensor() : tensor_from_object(gradient, std::nullopt);
        py::gil_scoped_release release;
        backward(t, g, retain_graph);
      }, py::arg("gradient") = py::none(), py::arg("retain_graph") = false)
      .def("detach", &detach)
      .def("clone", [](const Tensor& t) { MaybeReleaseGil gil(t.numel()); return clone(t); })
      .def("contiguous", [](const Tensor& t) { MaybeReleaseGil gil(t.numel()); return contiguous(t); })
      .def("__hash__", [](py::handle self) { return reinterpret_cast<intptr_t>(self.ptr()); })
      // indexing
      .def("__getitem__", [](const Tensor& t, py::handle key) { return get_item(t, parse_index(key)); })
      .def("__setitem__", [](const Tensor& t, py::handle key, py::handle value) {
        Tensor v;
        if (!to_operand(value, v)) v = tensor_from_object(value, t.dtype());
        set_item(t, parse_index(key), v);
      })
      // As torch.Tensor.index_put(_): indices one (optional) index tensor per leading dim.
      .def("index_put", [](const Tensor& t, const std::vector<std::optional<Tensor>>& indices, const Tensor& values,
                           bool accumulate) { return index_put(t, indices, values, accumulate); },
           py::arg("indices"), py::arg("values"), py::arg("accumulate") = false)
      .def("index_put_", [](py::object self, const std::vector<std::optional<Tensor>>& indices, const Tensor& values,
                            bool accumulate) {
        index_put_(self.cast<const Tensor&>(), indices, values, accumulate);
        return self;
      }, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false)
      .def("__len__", [](const Tensor& t) {
        if (t.dim() == 0) throw py::type_error("len() of a 0-d tensor");
        return t.sizes()[0];
      })
      // arithmetic operators
      .def("__add__", &binary_operator<OpId::add>)
      .def("__radd__", &binary_operator<OpId::add, true>)
      .def("__sub__", &binary_operator<OpId::sub>)
      .def("__rsub__", &binary_operator<OpId::sub, true>)
      .def("__mul__", &binary_operator<OpId::mul>)
      .def("__rmul__", &binary_operator<OpId::mul, true>)
      .def("__truediv__", &binary_operator<OpId::div>)
      .def("__rtruediv__", &binary_operator<OpId::div, true>)
      .def("__pow__", &binary_operator<OpId::pow>)
      .def("__rpow__", &binary_operator<OpId::pow, true>)
      .def("__eq__", &binary_operator<OpId::eq>)
      .def("__ne__", &binary_operator<OpId::ne>)
      .def("__lt__", &binary_operator<OpId::lt>)
      .def("__le__", &binary_operator<OpId::le>)
      .def("__gt__", &binary_operator<OpId::gt>)
      .def("__ge__", &binary_operator<OpId::ge>)
      .def("__and__", &binary_operator<OpId::logical_and>)
      .def("__rand__", &binary_operator<OpId::logical_and, true>)
      .def("__or__", &binary_operator<OpId::logical_or>)
      .def("__ror__", &binary_operator<OpId::logical_or, true>)
      .def("__xor__", &binary_operator<OpId::logical_xor>)
      .def("__rxor__", &binary_operator<OpId::logical_xor, true>)
      .def("__matmul__", [](const Tensor& a, py::handle other) -> py::object {
        Tensor b;
        if (!to_operand(other, b) || b.impl()->is_wrapped_number)
          return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        Tensor result;
        {
          MaybeReleaseGil gil(a.numel() * 8);
          result = matmul(a, b);
        }
        return py::cast(std::move(result));
      })
      .def("__rmatmul__", [](const Tensor& b, py::handle other) -> py::object {
        Tensor a;
        if (!to_operand(other, a) || a.impl()->is_wrapped_number)
          return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        return py::cast(matmul(a, b));
      })
      .def("__neg__", [](const Tensor& t) { return neg(t); })
      .def("__pos__", [](const Tensor& t) { return t; })
      .def("__abs__", [](const Tensor& t) { return abs(t); })
      .def("__invert__", &bitwise_not)
      .def("__iadd__", &inplace_operator<OpId::add>)
      .def("__isub__", &inplace_operator<OpId::sub>)
      .def("__imul__", &inplace_operator<OpId::mul>)
      .def("__itruediv__", &inplace_operator<OpId::div>)
      .def("__ipow__", &inplace_operator<OpId::pow>)
      // in-place methods
      .def("add_", [](py::object self, py::handle other, py::handle alpha) {
        return inplace_scaled<add_>(self, other, alpha, "add_");
      }, py::arg("other"), py::arg("alpha") = py::none())
      .def("sub_", [](py::object self, py::handle other, py::handle alpha) {
        return inplace_scaled<sub_>(self, other, alpha, "sub_");
      }, py::arg("other"), py::arg("alpha") = py::none())
      .def("mul_", &inplace_method<OpId::mul>)
      .def("div_", &inplace_method<OpId::div>)
      .def("pow_", &inplace_method<OpId::pow>)
      .def("maximum_", &inplace_method<OpId::maximum>)
      .def("minimum_", &inplace_method<OpId::minimum>)
      .def("neg_", &inplace_unary<OpId::neg>)
      .def("exp_", &inplace_unary<OpId::exp>)
      .def("log_", &inplace_unary<OpId::log>)
      .def("sqrt_", &inplace_unary<OpId::sqrt>)
      .def("abs_", &inplace_unary<OpId::abs>)
      .def("relu_", &inplace_unary<OpId::relu>)
      .def("sigmoid_", &inplace_unary<OpId::sigmoid>)
      .def("tanh_", &inplace_unary<OpId::tanh>)
      .def("zero_", [](py::object self) {
        fill_(self.cast<const Tensor&>(), 0.0);
        return self;
      })
      .def("fill_", [](py::object self, double v) {
        fill_(self.cast<const Tensor&>(), v);
        return self;
      })
      .def("copy_", [](py::object self, py::handle src) {
        const Tensor& t = self.cast<const Tensor&>();
        Tensor s;
        if (!to_operand(src, s)) s = tensor_from_object(src, std::nullopt);
        {
          MaybeReleaseGil gil(t.numel());
          copy_(t, s);
        }
        return self;
      })
      .def("clamp_", [](py::object self, std::optional<double> lo, std::optional<double> hi) {
        clamp_(self.cast<const Tensor&>(), lo, hi);
        return self;
      }, py::arg("min") = py::none(), py::arg("max") = py::none())
      .def("uniform_", [](py::object self, double a, double b) {
        uniform_(self.cast<const Tensor&>(), a, b);
        return self;
      }, py::arg("a") = 0.0, py::arg("b") = 1.0)
      .def("normal_", [](py::object self, double mean, double std) {
        normal_(self.cast<const Tensor&>(), mean, std);
        return self;
      }, py::arg("mean") = 0.0, py::arg("std") = 1.0);

}

}  // namespace nn::bind
