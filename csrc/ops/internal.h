// internal.h — helpers shared by the op files; not part of the public C++ API.
// Everything here bypasses autograd: callers record their own nodes.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "kernels/dispatch.h"
#include "ops/ops.h"

namespace nn::detail {

// A stride-0 view of t broadcast to `shape` (shape must be a valid broadcast target).
Tensor broadcast_view(const Tensor& t, const Shape& shape);
// cast without a backward node; returns t itself when the dtype already matches.
Tensor cast_raw(const Tensor& t, DType dtype);
// Contiguous copy (or t itself when already contiguous), no backward node.
Tensor contiguous_raw(const Tensor& t);
// dst <- src (broadcast, cast), no version bump, no autograd.
void copy_raw(const Tensor& dst, const Tensor& src);

// Checks that an in-place op may write into `self`: not a leaf that requires grad while
// grad mode is on, and no two elements share one memory location (expanded views).
void check_inplace_target(const Tensor& self, const char* op);
// After an in-place op computed out of place as `result` (with history), make `self`
// carry that history: self's grad_fn becomes result's.
void rebase_history(const Tensor& self, const Tensor& result);
// Marks a view output and, when the input requires grad, records its backward.
void mark_view(const Tensor& out, const Tensor& base);

// Gradient helper: sum g down to `shape` and cast it to `dtype`.
Tensor reduce_grad(const Tensor& g, const Shape& shape, DType dtype);

// The name of an op's backward node: "log_softmax" -> "LogSoftmaxBackward".
inline std::string backward_name(OpId op) {
  std::string out;
  bool upper = true;
  for (const char* c = op_info(op).name; *c; ++c) {
    if (*c == '_') { upper = true; continue; }
    out += upper ? static_cast<char>(*c >= 'a' && *c <= 'z' ? *c - 32 : *c) : *c;
    upper = false;
  }
  return out + "Backward";
}

// t with every stride >= 0 (what the GEMM packing reads): reversed views are copied;
// a negative stride on a size-1 dim is just rewritten.
inline Tensor nonnegative_strides(const Tensor& t) {
  bool negative = false;
  for (int64_t s : t.strides()) negative = negative || s < 0;
  if (!negative) return t;
  if (t.is_contiguous()) return make_view(t, t.sizes(), contiguous_strides(t.sizes()), t.offset());
  return contiguous_raw(t);  // not contiguous: a fresh copy with row-major strides
}

// An int-or-pair argument (kernel_size, stride, padding, ...) as two values >= min.
inline std::array<int64_t, 2> pair_arg(const std::vector<int64_t>& v, const char* op, const char* what,
                                       int64_t min) {
  NN_CHECK(v.size() == 1 || v.size() == 2, ValueError, op, ": ", what, " must be an int or a pair of ints, got ",
           v.size(), " values");
  std::array<int64_t, 2> out{v[0], v.size() == 2 ? v[1] : v[0]};
  NN_CHECK(out[0] >= min && out[1] >= min, ValueError, op, ": ", what, " must be >= ", min, ", got (", out[0], ", ",
           out[1], ")");
  return out;
}

// Device check for ops with several tensor inputs.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);

// Does t share storage with u?
inline bool shares_storage(const Tensor& t, const Tensor& u) { return t.storage() == u.storage(); }

}  // namespace nn::detail
