// checkpoint.cpp — byte-level helpers for nn_core.serialization (safetensors files):
//   _xxh64(buffers, seed)            XXH64 of the concatenation of buffer-protocol objects (GIL released)
//   _tensor_bytes(t)                 a 1-D uint8 numpy array viewing a contiguous tensor's bytes (any dtype,
//                                    bfloat16 included, which numpy itself cannot describe)
//   _tensor_from_buffer(buf, dtype, shape)
//                                    a contiguous tensor over a writable buffer (e.g. a copy-on-write numpy
//                                    memmap slice) without copying; the buffer is held until the tensor dies
// XXH64 itself is core/xxhash64.h; the checks of _tensor_from_buffer are core's from_external_contiguous.
#include <pybind11/numpy.h>

#include "bindings/bindings.h"
#include "core/xxhash64.h"

namespace nn::bind {
namespace {

// A Py_buffer held for a Python object's bytes; released on destruction (with the GIL).
struct HeldBuffer {
  Py_buffer view{};
  bool ok = false;
  HeldBuffer(py::handle obj, int flags) {
    if (PyObject_GetBuffer(obj.ptr(), &view, flags) != 0) throw py::error_already_set();
    ok = true;
  }
  ~HeldBuffer() { if (ok) PyBuffer_Release(&view); }
  HeldBuffer(const HeldBuffer&) = delete;
  HeldBuffer& operator=(const HeldBuffer&) = delete;
};

}  // namespace

void bind_checkpoint(py::module_& m) {
  m.def("_xxh64", [](py::iterable buffers, uint64_t seed) {
    std::vector<std::unique_ptr<HeldBuffer>> held;
    for (py::handle b : buffers) held.push_back(std::make_unique<HeldBuffer>(b, PyBUF_C_CONTIGUOUS));
    uint64_t out;
    {
      py::gil_scoped_release release;
      Xxh64 h(seed);
      for (const auto& b : held) h.update(b->view.buf, static_cast<size_t>(b->view.len));
      out = h.digest();
    }
    return out;
  }, py::arg("buffers"), py::arg("seed") = 0,
     "XXH64 of the concatenated bytes of C-contiguous buffer objects (bytes, memoryview, numpy arrays).");

  m.def("_tensor_bytes", [](const Tensor& t) {
    NN_CHECK(t.is_contiguous(), ValueError, "_tensor_bytes: the tensor must be contiguous (shape ",
             t.sizes(), ")");
    const py::ssize_t nbytes = static_cast<py::ssize_t>(t.numel()) * static_cast<py::ssize_t>(itemsize(t.dtype()));
    py::capsule owner(new Tensor(t), [](void* p) { delete static_cast<Tensor*>(p); });
    return py::array(py::dtype("uint8"), {nbytes}, {py::ssize_t{1}}, t.data_bytes(), owner);
  }, py::arg("tensor"), "The bytes of a contiguous tensor as a uint8 numpy array sharing its memory.");

  m.def("_tensor_from_buffer", [](py::handle buf, DType dtype, const std::vector<int64_t>& shape) {
    auto held = std::make_shared<HeldBuffer>(buf, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE);
    auto release = [held]() mutable {
      if (!Py_IsInitialized()) return;
      py::gil_scoped_acquire gil;
      held.reset();
    };
    return from_external_contiguous(held->view.buf, static_cast<size_t>(held->view.len), shape, dtype,
                                    std::move(release), "_tensor_from_buffer");
  }, py::arg("buffer"), py::arg("dtype"), py::arg("shape"),
     "A contiguous tensor viewing a writable C-contiguous buffer without copying (no bounds beyond the buffer).");
}

}  // namespace nn::bind
