// elementwise.cpp — the UNARY, BINARY and COMPARE families, where, cast, copy_, fill_,
// clone and detach: argument checks, type promotion, output allocation and kernel
// dispatch. The families' derivatives are formulas in ops.schema (autograd_generated.cpp);
// where, cast, copy_ and clone still record their nodes here.
//
// Type promotion follows PyTorch: tensors with dimensions outrank 0-dim tensors, which
// outrank wrapped Python scalars; a lower-ranked operand only matters when its kind
// (bool < integer < float) is higher. Half types compute in float32 (Note [Half types]).
#include <cmath>
#include <limits>

#include "ops/internal.h"

namespace nn {
using detail::cast_raw;

namespace {

int kind_of(DType t) { return t == DType::Bool ? 0 : (is_floating(t) ? 2 : 1); }

// Unary ops whose result is a bool tensor (the predicate rows).
bool unary_bool_result(OpId op) {
  return op == OpId::logical_not || op == OpId::isnan || op == OpId::isfinite;
}

// Float-only unary ops promote integer inputs to float32; these keep the input dtype.
bool unary_is_float_only(OpId op) {
  switch (op) {
    case OpId::neg: case OpId::abs: case OpId::relu: case OpId::square: case OpId::sign: case OpId::floor:
    case OpId::ceil: case OpId::round: case OpId::trunc: return false;
    default: return !unary_bool_result(op);
  }
}

}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  auto rank = [](const Tensor& t) { return t.impl()->is_wrapped_number ? 0 : (t.dim() == 0 ? 1 : 2); };
  const int ra = rank(a), rb = rank(b);
  if (ra == rb) return promote_types(a.dtype(), b.dtype());
  const Tensor& hi = ra > rb ? a : b;
  const Tensor& lo = ra > rb ? b : a;
  if (kind_of(lo.dtype()) <= kind_of(hi.dtype())) return hi.dtype();
  if (lo.impl()->is_wrapped_number) {  // a Python scalar of a higher kind: default dtype of its kind
    const DType lo_default = kind_of(lo.dtype()) == 2 ? DType::Float32 : DType::Int64;
    return promote_types(hi.dtype(), lo_default);
  }
  return promote_types(hi.dtype(), lo.dtype());
}

Tensor scalar_tensor(double value, DType dtype) {
  Tensor t = empty({}, dtype);
  kernels().fill.get(OpId::fill_, t.device())(t, value);
  return t;
}

Tensor wrapped_scalar(double value, bool is_integral, bool is_bool) {
  Tensor t = scalar_tensor(value, is_bool ? DType::Bool : (is_integral ? DType::Int64 : DType::Float64));
  t.impl()->is_wrapped_number = true;
  return t;
}

Tensor native_unary_op(OpId op, const Tensor& x) {
  const char* name = op_info(op).name;
  NN_CHECK(x.defined(), ValueError, name, ": input is undefined");
  const bool bool_result = unary_bool_result(op);
  DType out_dtype = x.dtype();
  if (bool_result) out_dtype = DType::Bool;
  else if (unary_is_float_only(op) && !is_floating(x.dtype())) out_dtype = DType::Float32;
  NN_CHECK(!(op == OpId::neg && x.dtype() == DType::Bool), DTypeError, name,
           ": negation of a bool tensor is not supported; use logical_not");
  const DType in_compute = bool_result ? compute_dtype(x.dtype()) : compute_dtype(out_dtype);
  Tensor xc = cast_raw(x, in_compute);
  Tensor out = empty(x.sizes(), bool_result ? DType::Bool : in_compute, x.device());
  kernels().unary.get(op, x.device())(op, xc, out);
  out = cast_raw(out, out_dtype);
  return out;
}

Tensor native_binary_op(OpId op, const Tensor& a, const Tensor& b) {
  const char* name = op_info(op).name;
  NN_CHECK(a.defined() && b.defined(), ValueError, name, ": input is undefined");
  detail::check_same_device(a, b, name);
  const bool compare = op_info(op).family == OpFamily::Compare;
  const DType common = result_type(a, b);
  DType out_dtype = compare ? DType::Bool : common;
  if (op == OpId::div && !is_floating(common)) out_dtype = DType::Float32;  // true division
  NN_CHECK(!(op == OpId::sub && common == DType::Bool), DTypeError, name,
           ": subtraction of bool tensors is not supported; use logical_xor");
  const DType compute = compare ? compute_dtype(common) : compute_dtype(out_dtype);
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor ac = detail::broadcast_view(cast_raw(a, compute), shape);
  Tensor bc = detail::broadcast_view(cast_raw(b, compute), shape);
  if (op == OpId::pow && is_integral(compute, false) && bc.numel() > 0) {
    // Note [Checks in kernels] (kernels/data.h): the device finds a negative exponent.
    const Tensor exponent = detail::contiguous_raw(cast_raw(b, DType::Int64));
    const DataCheck check = kernels().range_check.get(OpId::pow, b.device())(
        exponent, 0, std::numeric_limits<int64_t>::max());
    NN_CHECK(check.ok(), ValueError, "pow: integers to negative integer powers are not allowed");
  }
  if ((op == OpId::fmod || op == OpId::remainder) && bc.numel() > 0) {  // ops/misc_ops.cpp's rows
    NN_CHECK(common != DType::Bool, DTypeError, name, ": not implemented for bool tensors");
    if (is_integral(compute, false)) {  // Note [Checks in kernels]: the device looks for a zero divisor
      const Tensor zero = detail::contiguous_raw(cast_raw(eq(bc, wrapped_scalar(0, true)), DType::Int64));
      const DataCheck check = kernels().range_check.get(op, b.device())(zero, 0, 0);
      NN_CHECK(check.ok(), RuntimeError, name, ": ZeroDivisionError (an integer divisor is 0)");
    }
  }
  Tensor out = empty(shape, compare ? DType::Bool : compute, a.device());
  kernels().binary.get(op, a.device())(op, ac, bc, out);
  out = cast_raw(out, out_dtype);
  // The node comes from the row's formulas (autograd_generated.cpp); a result that could
  // carry no gradient is an error here, while the inputs are at hand.
  NN_CHECK(compare || is_floating(out_dtype) || !autograd::needs_grad({&a, &b}), DTypeError, name,
           ": gradients need a floating-point result, got ", out_dtype);
  return out;
}

void native_binary_op_(OpId op, const Tensor& self, const Tensor& other) {
  const char* name = op_info(op).name;
  NN_CHECK(op_info(op).family == OpFamily::Binary, ValueError, "binary_: '", name,
           "' is not a binary op (in place takes a row of the binary family)");
  detail::check_inplace_target(self, name);
  detail::check_same_device(self, other, name);
  const Shape shape = broadcast_shapes(self.sizes(), other.sizes(), name);
  NN_CHECK(shape == self.sizes(), ShapeError, name, "_: output with shape ", self.sizes(),
           " doesn't match the broadcast shape ", shape);
  DType common = result_type(self, other);
  if (op == OpId::div && !is_floating(common)) common = DType::Float32;
  NN_CHECK(!(is_floating(common) && !is_floating(self.dtype())) && !(common != DType::Bool && self.dtype() == DType::Bool),
           DTypeError, name, "_: result type ", common, " can't be cast to the desired output type ", self.dtype());
  if (autograd::needs_grad({&self, &other})) {
    NN_CHECK(!self.impl()->is_view, RuntimeError, name,
             "_: in-place operations with gradients on a view are not supported; apply the op to the base "
             "tensor or use the out-of-place form");
    Tensor result = binary_op(op, clone(self), other);
    detail::copy_raw(self, result);
    self.bump_version();
    detail::rebase_history(self, result);
    return;
  }
  const DType compute = compute_dtype(self.dtype());
  if (compute != self.dtype() || common != self.dtype() || op == OpId::pow) {
    Tensor result = binary_op(op, self, other);
    detail::copy_raw(self, result);
  } else {
    Tensor oc = cast_raw(other, compute);
    if (detail::shares_storage(oc, self)) oc = clone(oc);  // no aliasing between in and out
    kernels().binary.get(op, self.device())(op, self, detail::broadcast_view(oc, shape), self);
  }
  self.bump_version();
}

void native_unary_op_(OpId op, const Tensor& self) {
  const char* name = op_info(op).name;
  NN_CHECK(op_info(op).family == OpFamily::Unary, ValueError, "unary_: '", name,
           "' is not a unary op (in place takes a row of the unary family)");
  detail::check_inplace_target(self, name);
  Tensor result;
  if (autograd::needs_grad({&self})) {
    NN_CHECK(!self.impl()->is_view, RuntimeError, name,
             "_: in-place operations with gradients on a view are not supported");
    result = unary_op(op, clone(self));
  } else {
    result = unary_op(op, self);
  }
  NN_CHECK(result.dtype() == self.dtype(), DTypeError, name, "_: result type ", result.dtype(),
           " can't be cast to the desired output type ", self.dtype());
  detail::copy_raw(self, result);
  self.bump_version();
  if (result.requires_grad()) detail::rebase_history(self, result);
}

Tensor native_where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_same_device(cond, a, "where");
  detail::check_same_device(a, b, "where");
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.sizes(), a.sizes(), "where"), b.sizes(), "where");
  const DType dtype = result_type(a, b);
  Tensor out = empty(shape, dtype, a.device());
  kernels().where.get(OpId::where, a.device())(
      detail::broadcast_view(cast_raw(cond, DType::Bool), shape), detail::broadcast_view(cast_raw(a, dtype), shape),
      detail::broadcast_view(cast_raw(b, dtype), shape), out);
  return out;
}

Tensor native_cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = cast_raw(x, dtype);
  if (is_floating(dtype) && autograd::needs_grad({&x})) {
    const DType from = x.dtype();
    autograd::record("ToCopyBackward", {x}, {out}, [from](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{cast_raw(g[0], from)};
    });
  }
  return out;
}

void native_copy_(const Tensor& dst, const Tensor& src) {
  detail::check_inplace_target(dst, "copy_");
  detail::check_same_device(dst, src, "copy_");
  const Shape shape = broadcast_shapes(dst.sizes(), src.sizes(), "copy_");
  NN_CHECK(shape == dst.sizes(), ShapeError, "copy_: source of shape ", src.sizes(),
           " cannot be broadcast to the destination's shape ", dst.sizes());
  if (autograd::needs_grad({&src})) {
    NN_CHECK(!dst.impl()->is_view, RuntimeError,
             "copy_: copying a tensor that requires grad into a view is not supported; use indexing "
             "assignment on the base tensor");
    Tensor result = add(mul(clone(dst), zeros({}, dst.dtype())), cast(src, dst.dtype()));
    detail::copy_raw(dst, result);
    dst.bump_version();
    detail::rebase_history(dst, result);
    return;
  }
  detail::copy_raw(dst, src);
  dst.bump_version();
}

void native_fill_(const Tensor& t, double value) {
  detail::check_inplace_target(t, "fill_");
  kernels().fill.get(OpId::fill_, t.device())(t, value);
  t.bump_version();
  if (t.requires_grad() && !autograd::is_leaf(t)) {
    // The filled tensor no longer depends on its history.
    autograd::clear_history(t);
  }
}

Tensor native_clone(const Tensor& x) {
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  detail::copy_raw(out, x);
  if (autograd::needs_grad({&x})) {
    autograd::record("CloneBackward", {x}, {out}, [](const std::vector<Tensor>& g) { return g; });
  }
  return out;
}

Tensor native_detach(const Tensor& x) {
  return make_view(x, x.sizes(), x.strides(), x.offset());
}

namespace detail {

Tensor cast_raw(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = empty(t.sizes(), dtype, t.device());
  kernels().copy.get(OpId::cast, t.device())(out, t);
  out.impl()->is_wrapped_number = t.impl()->is_wrapped_number;
  return out;
}

Tensor contiguous_raw(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = empty(t.sizes(), t.dtype(), t.device());
  kernels().copy.get(OpId::contiguous, t.device())(out, t);
  return out;
}

void copy_raw(const Tensor& dst, const Tensor& src) {
  Tensor s = src;
  if (shares_storage(dst, src) && !(dst.offset() == src.offset() && dst.strides() == src.strides())) {
    s = empty(src.sizes(), src.dtype(), src.device());  // overlapping views: go through a buffer
    kernels().copy.get(OpId::copy_, src.device())(s, src);
  }
  kernels().copy.get(OpId::copy_, dst.device())(dst, broadcast_view(s, dst.sizes()));
}

void check_inplace_target(const Tensor& self, const char* op) {
  NN_CHECK(!(autograd::is_leaf(self) && self.requires_grad() && autograd::GradMode::is_enabled()), RuntimeError, op,
           ": a leaf tensor that requires grad is being used in an in-place operation (wrap it in "
           "nn_core.no_grad() or use the out-of-place form)");
  NN_CHECK(!(self.impl()->is_view && self.requires_grad() && autograd::GradMode::is_enabled()), RuntimeError, op,
           ": a view of a tensor that requires grad is being used in an in-place operation; this is not "
           "supported (modify the base tensor, or work under nn_core.no_grad())");
  for (int64_t d = 0; d < self.dim(); ++d)
    NN_CHECK(!(self.strides()[d] == 0 && self.sizes()[d] > 1), RuntimeError, op,
             ": unsupported operation: more than one element of the written-to tensor (shape ", self.sizes(),
             ", strides ", self.strides(), ") refers to a single memory location; call .clone() first");
}

void rebase_history(const Tensor& self, const Tensor& result) {
  autograd::copy_history(self, result);
}

Tensor reduce_grad(const Tensor& g, const Shape& shape, DType dtype) {
  return cast_raw(sum_to(g, shape), dtype);
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  NN_CHECK(a.device() == b.device(), DeviceError, op, ": expected all tensors on the same device, got ",
           a.device().str(), " and ", b.device().str());
}

}  // namespace detail
}  // namespace nn
