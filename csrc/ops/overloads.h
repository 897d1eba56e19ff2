// overloads.h — the argument forms of the Python API (PyTorch's overloads) that are not
// op-table rows: each is a short composite of table ops (so autograd and tracing see only
// those ops) or a checked conversion. The bindings call these instead of composing ops
// themselves; bindings/ converts Python objects and nothing more.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ops/ops.h"

namespace nn {

// gelu(x, approximate): "none" (erf form) or "tanh"; ValueError for anything else.
Tensor gelu(const Tensor& x, const std::string& approximate);

// a + alpha * b and a - alpha * b; an undefined alpha means 1 (b is used as it is).
Tensor add(const Tensor& a, const Tensor& b, const Tensor& alpha);
Tensor sub(const Tensor& a, const Tensor& b, const Tensor& alpha);
// In place: self += alpha * other, self -= alpha * other (undefined alpha: 1).
void add_(const Tensor& self, const Tensor& other, const Tensor& alpha);
void sub_(const Tensor& self, const Tensor& other, const Tensor& alpha);
// self <- clamp(self, min, max).
void clamp_(const Tensor& self, std::optional<double> min, std::optional<double> max);

// mean(x, dims, keepdim, dtype): x is cast to dtype first when one is given.
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim, std::optional<DType> dtype);

// ~x: logical not of a bool tensor; DTypeError for other dtypes (no integer bitwise ops).
Tensor bitwise_not(const Tensor& x);
// x.T: all dims reversed (a no-op view for 0-d and 1-d tensors).
Tensor numpy_T(const Tensor& x);
// x.to(device): x itself when it is already there; DeviceError otherwise (this build has
// no copies between devices yet).
Tensor to_device(const Tensor& x, const Device& device);

// A Python int as a 0-dim wrapped int64 number holding exactly `value` (wrapped_scalar
// goes through a double, which rounds integers beyond 2^53).
Tensor wrapped_integer(int64_t value);

// A new contiguous tensor of dtype `dtype` holding a copy of foreign memory: `data` with
// `sizes` and byte strides of elements of `src_dtype` (checked as from_external_strided
// does). The memory is only read, during the call.
Tensor copy_from_external(const char* data, const Shape& sizes, const std::vector<int64_t>& byte_strides,
                          DType src_dtype, DType dtype, const char* op);

}  // namespace nn
