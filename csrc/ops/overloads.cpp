// overloads.cpp — the Python API's argument forms declared in overloads.h, written with
// table ops (their autograd and tracing come from those ops).
#include "ops/overloads.h"

#include "ops/internal.h"

namespace nn {

Tensor gelu(const Tensor& x, const std::string& approximate) {
  NN_CHECK(approximate == "none" || approximate == "tanh", ValueError,
           "gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
  return approximate == "tanh" ? gelu_tanh(x) : gelu(x);
}

Tensor add(const Tensor& a, const Tensor& b, const Tensor& alpha) {
  return add(a, alpha.defined() ? mul(b, alpha) : b);
}

Tensor sub(const Tensor& a, const Tensor& b, const Tensor& alpha) {
  return sub(a, alpha.defined() ? mul(b, alpha) : b);
}

void add_(const Tensor& self, const Tensor& other, const Tensor& alpha) {
  binary_op_(OpId::add, self, alpha.defined() ? mul(other, alpha) : other);
}

void sub_(const Tensor& self, const Tensor& other, const Tensor& alpha) {
  binary_op_(OpId::sub, self, alpha.defined() ? mul(other, alpha) : other);
}

void clamp_(const Tensor& self, std::optional<double> min, std::optional<double> max) {
  copy_(self, clamp(self, min, max));
}

Tensor mean(const Tensor& x, const Dims& dims, bool keepdim, std::optional<DType> dtype) {
  return mean(dtype ? cast(x, *dtype) : x, dims, keepdim);
}

Tensor bitwise_not(const Tensor& x) {
  NN_CHECK(x.dtype() == DType::Bool, DTypeError, "~ (bitwise not) is only supported on bool tensors, got ",
           x.dtype());
  return logical_not(x);
}

Tensor numpy_T(const Tensor& x) {
  Dims dims;
  for (int64_t i = x.dim() - 1; i >= 0; --i) dims.push_back(i);
  return permute(x, dims);
}

Tensor to_device(const Tensor& x, const Device& device) {
  NN_CHECK(device == x.device(), DeviceError, "to: moving tensors to ", device.str(),
           " is not supported in this build");
  return x;
}

Tensor wrapped_integer(int64_t value) {
  Tensor t = wrapped_scalar(static_cast<double>(value), true);
  t.data<int64_t>()[0] = value;  // exact beyond 2^53
  return t;
}

Tensor copy_from_external(const char* data, const Shape& sizes, const std::vector<int64_t>& byte_strides,
                          DType src_dtype, DType dtype, const char* op) {
  const Tensor view = from_external_strided(const_cast<char*>(data), sizes, byte_strides, src_dtype, nullptr, op);
  Tensor out = empty(sizes, dtype);
  detail::copy_raw(out, view);
  return out;
}

}  // namespace nn
