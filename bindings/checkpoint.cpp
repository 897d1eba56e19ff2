// checkpoint.cpp — byte-level helpers for nn_core.serialization (safetensors files):
//   _xxh64(buffers, seed)            XXH64 of the concatenation of buffer-protocol objects (GIL released)
//   _tensor_bytes(t)                 a 1-D uint8 numpy array viewing a contiguous tensor's bytes (any dtype,
//                                    bfloat16 included, which numpy itself cannot describe)
//   _tensor_from_buffer(buf, dtype, shape)
//                                    a contiguous tensor over a writable buffer (e.g. a copy-on-write numpy
//                                    memmap slice) without copying; the buffer is held until the tensor dies
// XXH64 is implemented here from its public specification (64-bit lanes, 32-byte stripes, 4 accumulators);
// the result equals python-xxhash's xxh64 so files can be checked with other tools.
#include <pybind11/numpy.h>

#include <cstring>

#include "bindings/bindings.h"

namespace nn::bind {
namespace {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kP3 = 0x165667B19E3779F9ULL;
constexpr uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t kP5 = 0x27D4EB2F165667C5ULL;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t read64(const unsigned char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }  // little-endian hosts
inline uint32_t read32(const unsigned char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t round64(uint64_t acc, uint64_t lane) { return rotl(acc + lane * kP2, 31) * kP1; }
inline uint64_t merge64(uint64_t h, uint64_t v) { return (h ^ round64(0, v)) * kP1 + kP4; }

// Streaming XXH64: update() with consecutive pieces, digest() once.
class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed) : seed_(seed), v_{seed + kP1 + kP2, seed + kP2, seed, seed - kP1} {}

  void update(const unsigned char* p, size_t n) {
    total_ += n;
    if (fill_ > 0) {
      const size_t take = std::min(n, size_t{32} - fill_);
      std::memcpy(buf_ + fill_, p, take);
      fill_ += take; p += take; n -= take;
      if (fill_ < 32) return;
      stripe(buf_);
      fill_ = 0;
    }
    uint64_t v0 = v_[0], v1 = v_[1], v2 = v_[2], v3 = v_[3];
    while (n >= 32) {
      v0 = round64(v0, read64(p)); v1 = round64(v1, read64(p + 8));
      v2 = round64(v2, read64(p + 16)); v3 = round64(v3, read64(p + 24));
      p += 32; n -= 32;
    }
    v_[0] = v0; v_[1] = v1; v_[2] = v2; v_[3] = v3;
    std::memcpy(buf_, p, n);
    fill_ = n;
  }

  uint64_t digest() const {
    uint64_t h;
    if (total_ >= 32) {
      h = rotl(v_[0], 1) + rotl(v_[1], 7) + rotl(v_[2], 12) + rotl(v_[3], 18);
      for (uint64_t v : v_) h = merge64(h, v);
    } else {
      h = seed_ + kP5;
    }
    h += total_;
    const unsigned char* p = buf_;
    size_t n = fill_;
    for (; n >= 8; p += 8, n -= 8) h = rotl(h ^ round64(0, read64(p)), 27) * kP1 + kP4;
    if (n >= 4) { h = rotl(h ^ (uint64_t{read32(p)} * kP1), 23) * kP2 + kP3; p += 4; n -= 4; }
    for (; n > 0; ++p, --n) h = rotl(h ^ (uint64_t{*p} * kP5), 11) * kP1;
    h ^= h >> 33; h *= kP2; h ^= h >> 29; h *= kP3; h ^= h >> 32;
    return h;
  }

 private:
  void stripe(const unsigned char* p) {
    for (int i = 0; i < 4; ++i) v_[i] = round64(v_[i], read64(p + 8 * i));
  }
  uint64_t seed_;
  uint64_t v_[4];
  unsigned char buf_[32] = {};
  size_t fill_ = 0;
  uint64_t total_ = 0;
};

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
      for (const auto& b : held) h.update(static_cast<const unsigned char*>(b->view.buf), static_cast<size_t>(b->view.len));
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
    const int64_t item = static_cast<int64_t>(itemsize(dtype));
    int64_t numel = 1;
    for (int64_t s : shape) {
      NN_CHECK(s >= 0 && (s == 0 || numel <= INT64_MAX / s), ValueError, "_tensor_from_buffer: bad shape ",
               shape);
      numel *= s;
    }
    NN_CHECK(numel <= INT64_MAX / item && numel * item == static_cast<int64_t>(held->view.len), ValueError,
             "_tensor_from_buffer: shape ", shape, " of ", dtype_name(dtype), " needs ",
             numel * item, " bytes, the buffer has ", held->view.len);
    const auto addr = reinterpret_cast<uintptr_t>(held->view.buf);
    NN_CHECK(addr % static_cast<uintptr_t>(item) == 0, ValueError, "_tensor_from_buffer: the buffer is not aligned to ",
             item, " bytes; copy instead");
    Shape strides(shape.size());
    int64_t stride = 1;
    for (size_t i = shape.size(); i-- > 0;) { strides[i] = stride; stride *= std::max<int64_t>(shape[i], 1); }
    auto release = [held]() mutable {
      if (!Py_IsInitialized()) return;
      py::gil_scoped_acquire gil;
      held.reset();
    };
    auto storage = std::make_shared<Storage>(held->view.buf, static_cast<size_t>(held->view.len), Device{},
                                             std::move(release));
    return from_storage(storage, Shape(shape.begin(), shape.end()), strides, 0, dtype);
  }, py::arg("buffer"), py::arg("dtype"), py::arg("shape"),
     "A contiguous tensor viewing a writable C-contiguous buffer without copying (no bounds beyond the buffer).");
}

}  // namespace nn::bind
