// interop.cpp — conversions between Python objects and Tensors: operands and scalars,
// numpy arrays (zero-copy both ways where dtype and strides allow), DLPack capsules,
// and subscript parsing for __getitem__ / __setitem__. Wrapping foreign memory is core's
// from_external_strided (core/tensor.h); the DLPack conversions are core/dlpack.h.
#include <pybind11/numpy.h>

#include <cstring>

#include "bindings/bindings.h"
#include "core/dlpack.h"

namespace nn::bind {
namespace {

DType dtype_from_numpy(const py::dtype& dt) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'b') return DType::Bool;
  if (kind == 'i' && size == 1) return DType::Int8;
  if (kind == 'i' && size == 4) return DType::Int32;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'u' && size == 1) return DType::UInt8;
  if (kind == 'f' && size == 2) return DType::Float16;
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  throw DTypeError(str("from_numpy: numpy dtype '", std::string(py::str(dt)), "' is not supported (supported: bool, ",
                       "int8, uint8, int32, int64, float16, float32, float64)"));
}

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Bool: return py::dtype("bool");
    case DType::UInt8: return py::dtype("uint8");
    case DType::Int8: return py::dtype("int8");
    case DType::Int32: return py::dtype("int32");
    case DType::Int64: return py::dtype("int64");
    case DType::Float16: return py::dtype("float16");
    case DType::Float32: return py::dtype("float32");
    case DType::Float64: return py::dtype("float64");
    case DType::BFloat16: break;
  }
  throw DTypeError("numpy: numpy has no bfloat16 dtype; convert first with .float()");
}

// Keeps a Python object alive for as long as a Storage points into it.
std::function<void()> keep_alive(py::handle obj) {
  PyObject* ptr = obj.ptr();
  Py_INCREF(ptr);
  return [ptr] {
    if (!Py_IsInitialized()) return;
    py::gil_scoped_acquire gil;
    Py_DECREF(ptr);
  };
}

py::object& numpy_generic_type() {
  static py::object t = py::module_::import("numpy").attr("generic");
  return t;
}

// ---- DLPack capsules (the conversions are core/dlpack.h) ------------------------------
py::capsule export_dlpack(const Tensor& t, bool versioned) {
  NN_CHECK(!t.requires_grad(), RuntimeError, "__dlpack__: can't export a tensor that requires grad; use "
           "tensor.detach() first");
  if (versioned) {
    return py::capsule(dlpack::to_dlpack_versioned(t), "dltensor_versioned", [](PyObject* cap) {
      if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
        auto* mt = static_cast<dlpack::DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, "dltensor_versioned"));
        if (mt && mt->deleter) mt->deleter(mt);
      }
    });
  }
  return py::capsule(dlpack::to_dlpack(t), "dltensor", [](PyObject* cap) {
    if (PyCapsule_IsValid(cap, "dltensor")) {
      auto* mt = static_cast<dlpack::DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
      if (mt && mt->deleter) mt->deleter(mt);
    }
  });
}

Tensor from_dlpack_capsule(py::capsule cap) {
  PyObject* p = cap.ptr();
  if (PyCapsule_IsValid(p, "dltensor_versioned")) {
    auto* m = static_cast<dlpack::DLManagedTensorVersioned*>(PyCapsule_GetPointer(p, "dltensor_versioned"));
    NN_CHECK(m->version.major == 1, ValueError, "from_dlpack: unsupported DLPack major version ", m->version.major);
    Tensor t = dlpack::from_dlpack(m->dl_tensor, [m] { if (m->deleter) m->deleter(m); });
    PyCapsule_SetName(p, "used_dltensor_versioned");
    return t;
  }
  if (PyCapsule_IsValid(p, "dltensor")) {
    auto* m = static_cast<dlpack::DLManagedTensor*>(PyCapsule_GetPointer(p, "dltensor"));
    Tensor t = dlpack::from_dlpack(m->dl_tensor, [m] { if (m->deleter) m->deleter(m); });
    PyCapsule_SetName(p, "used_dltensor");
    return t;
  }
  throw ValueError("from_dlpack: expected an unused 'dltensor' or 'dltensor_versioned' capsule");
}

}  // namespace

bool to_operand(py::handle obj, Tensor& out) {
  if (py::isinstance<Tensor>(obj)) {
    out = obj.cast<Tensor>();
    return true;
  }
  PyObject* p = obj.ptr();
  if (PyBool_Check(p)) {
    out = wrapped_scalar(p == Py_True ? 1.0 : 0.0, true, true);
    return true;
  }
  if (PyLong_Check(p)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(p, &overflow);
    if (overflow != 0) throw ValueError("operand: Python integer is too large for int64");
    out = wrapped_integer(v);
    return true;
  }
  if (PyFloat_Check(p)) {
    out = wrapped_scalar(PyFloat_AS_DOUBLE(p), false);
    return true;
  }
  if (py::isinstance(obj, numpy_generic_type())) {
    const py::dtype dt = obj.attr("dtype");
    if (dt.kind() == 'b') out = wrapped_scalar(obj.cast<bool>() ? 1.0 : 0.0, true, true);
    else if (dt.kind() == 'i' || dt.kind() == 'u') out = wrapped_scalar(static_cast<double>(obj.cast<int64_t>()), true);
    else if (dt.kind() == 'f') out = wrapped_scalar(obj.cast<double>(), false);
    else return false;
    return true;
  }
  return false;
}

Tensor tensor_from_object(py::handle obj, std::optional<DType> dtype) {
  if (py::isinstance<Tensor>(obj)) {
    const Tensor& t = obj.cast<const Tensor&>();
    return dtype ? cast(t, *dtype) : t;
  }
  const bool is_array = py::isinstance<py::array>(obj);
  py::array arr = py::module_::import("numpy").attr("asarray")(obj);
  DType dt;
  if (!is_array && arr.dtype().kind() == 'f') dt = DType::Float32;  // Python floats: the default dtype
  else if (!is_array && arr.dtype().kind() == 'i') dt = DType::Int64;
  else if (arr.dtype().kind() == 'O' || arr.dtype().kind() == 'U' || arr.dtype().kind() == 'S')
    throw py::type_error("tensor: could not convert object of type " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))) + " to a tensor");
  else dt = dtype_from_numpy(arr.dtype());
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  std::vector<int64_t> bstrides(arr.strides(), arr.strides() + arr.ndim());
  return copy_from_external(static_cast<const char*>(arr.data()), shape, bstrides, dtype_from_numpy(arr.dtype()),
                            dtype ? *dtype : dt, "tensor");
}

std::vector<TensorIndex> parse_index(py::handle key) {
  std::vector<TensorIndex> out;
  auto parse_one = [&](py::handle k) {
    TensorIndex idx;
    PyObject* p = k.ptr();
    if (py::isinstance<Tensor>(k)) {
      idx.kind = TensorIndex::Kind::Tensor;
      idx.tensor = k.cast<Tensor>();
    } else if (PyBool_Check(p)) {
      idx.kind = TensorIndex::Kind::Tensor;
      idx.tensor = scalar_tensor(p == Py_True ? 1.0 : 0.0, DType::Bool);
    } else if (PyLong_Check(p) || (py::isinstance(k, numpy_generic_type()) && py::hasattr(k, "__index__") &&
                                   py::dtype(k.attr("dtype")).kind() != 'b')) {
      idx.kind = TensorIndex::Kind::Integer;
      idx.integer = k.cast<int64_t>();
    } else if (PySlice_Check(p)) {
      idx.kind = TensorIndex::Kind::Slice;
      auto part = [&](const char* name) -> std::optional<int64_t> {
        py::object v = k.attr(name);
        if (v.is_none()) return std::nullopt;
        PyObject* as_index = PyNumber_Index(v.ptr());
        if (as_index == nullptr) throw py::error_already_set();
        return py::reinterpret_steal<py::object>(as_index).cast<int64_t>();
      };
      idx.start = part("start");
      idx.stop = part("stop");
      auto step = part("step");
      idx.step = step ? *step : 1;
    } else if (k.is_none()) {
      idx.kind = TensorIndex::Kind::None;
    } else if (p == Py_Ellipsis) {
      idx.kind = TensorIndex::Kind::Ellipsis;
    } else if (py::isinstance<py::sequence>(k) || py::isinstance<py::array>(k)) {
      idx.kind = TensorIndex::Kind::Tensor;
      idx.tensor = tensor_from_object(k, std::nullopt);
      if (idx.tensor.numel() == 0 && idx.tensor.dtype() != DType::Bool) idx.tensor = cast(idx.tensor, DType::Int64);
    } else {
      throw IndexError(str("only integers, slices (`:`), ellipsis (`...`), None and integer or boolean tensors are "
                           "valid indices (got ", std::string(py::str(py::type::handle_of(k).attr("__name__"))), ")"));
    }
    out.push_back(idx);
  };
  if (py::isinstance<py::tuple>(key)) {
    for (py::handle k : key) parse_one(k);
  } else {
    parse_one(key);
  }
  return out;
}

void bind_interop(py::module_& m) {
  m.def("from_numpy", [](py::array arr) {
    const DType dt = dtype_from_numpy(arr.dtype());
    // A read-only array (a read-only memory map, np.frombuffer of bytes) is copied: an
    // in-place op through a shared tensor would write memory numpy promised not to change
    // (or fault on a read-only mapping).
    if (!arr.writeable()) return tensor_from_object(arr, dt);
    Shape shape(arr.shape(), arr.shape() + arr.ndim());
    std::vector<int64_t> bstrides(arr.strides(), arr.strides() + arr.ndim());
    return from_external_strided(static_cast<char*>(const_cast<void*>(arr.data())), shape, bstrides, dt, keep_alive(arr),
                       "from_numpy");
  }, py::arg("ndarray"));
  m.def("_tensor_from_object", [](py::handle obj, std::optional<DType> dtype) { return tensor_from_object(obj, dtype); },
        py::arg("data"), py::arg("dtype") = py::none());
  m.def("from_dlpack", [](py::object obj) {
    if (py::isinstance<py::capsule>(obj)) return from_dlpack_capsule(obj);
    if (!py::hasattr(obj, "__dlpack__"))
      throw py::type_error("from_dlpack: expected a DLPack capsule or an object with __dlpack__ (a tensor or "
                           "array), got " + std::string(py::str(py::type::of(obj).attr("__name__"))));
    py::object cap;
    try {
      cap = obj.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(1, 0));
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_TypeError)) throw;
      cap = obj.attr("__dlpack__")();
    }
    return from_dlpack_capsule(cap);
  }, py::arg("ext_tensor"));

  py::class_<Tensor> cls = py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"));
  cls.def("numpy", [](const Tensor& t) {
    NN_CHECK(!t.requires_grad(), RuntimeError, "numpy: can't call numpy() on a tensor that requires grad; use "
             "tensor.detach().numpy() instead");
    NN_CHECK(t.device().type == DeviceType::CPU, DeviceError, "numpy: the tensor is on ", t.device().str());
    const py::dtype dt = numpy_dtype(t.dtype());
    std::vector<py::ssize_t> shape(t.sizes().begin(), t.sizes().end()), strides;
    for (int64_t s : t.strides()) strides.push_back(s * static_cast<int64_t>(itemsize(t.dtype())));
    py::capsule owner(new Tensor(t), [](void* p) { delete static_cast<Tensor*>(p); });
    return py::array(dt, shape, strides, t.data_bytes(), owner);
  });
  cls.def("__dlpack__", [](const Tensor& t, py::object stream, py::object max_version, py::object dl_device,
                           py::object copy) {
    (void)stream;
    (void)dl_device;
    NN_CHECK(copy.is_none() || !copy.cast<bool>(), ValueError, "__dlpack__: copy=True is not supported");
    bool versioned = false;
    if (!max_version.is_none()) versioned = max_version.cast<py::tuple>()[0].cast<int>() >= 1;
    return export_dlpack(t, versioned);
  }, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
     py::arg("dl_device") = py::none(), py::arg("copy") = py::none());
  cls.def("__dlpack_device__", [](const Tensor&) { return py::make_tuple(dlpack::kDLCPU, 0); });
}

}  // namespace nn::bind
