// activation_backward.cpp — the fused derivative rows of the activations (relu_backward,
// sigmoid_backward, tanh_backward, gelu_backward, silu_backward, hardswish_backward,
// mish_backward): grad_output * f'(x) in one pass, which the rows' derivative formulas
// (ops.schema) name. Each checks its operands and runs the device's kernel from the
// registry's unary_backward table, kept under the forward unary row whose derivative it
// computes (cpu/unary_kernels.cpp registers relu, sigmoid, tanh, gelu, gelu_tanh, silu,
// hardswish and mish on the CPU).
//
// Operands: grad_output and x (or output, the forward's result: sigmoid, tanh and relu
// derive from it) of one shape, floating, on one device, any strides. Half types compute
// in float32 and round once; the result has the promoted dtype of the two.
#include "ops/internal.h"

namespace nn {
namespace {

Tensor fused_backward(OpId row, OpId forward, const Tensor& grad_output, const Tensor& x) {
  const char* name = op_info(row).name;
  NN_CHECK(grad_output.defined() && x.defined(), ValueError, name, ": input is undefined");
  detail::check_same_device(grad_output, x, name);
  NN_CHECK(grad_output.sizes() == x.sizes(), ShapeError, name, ": grad_output of shape ", grad_output.sizes(),
           " and input of shape ", x.sizes(), " must have the same shape");
  NN_CHECK(is_floating(grad_output.dtype()) && is_floating(x.dtype()), DTypeError, name,
           ": expected floating-point tensors, got ", grad_output.dtype(), " and ", x.dtype());
  const DType dtype = promote_types(grad_output.dtype(), x.dtype());
  const DType compute = compute_dtype(dtype);
  Tensor gc = detail::cast_raw(grad_output, compute), xc = detail::cast_raw(x, compute);
  Tensor out = empty(x.sizes(), compute, x.device());
  if (out.numel() > 0) kernels().unary_backward.get(forward, x.device())(forward, gc, xc, xc, out);
  return detail::cast_raw(out, dtype);
}

}  // namespace

Tensor native_relu_backward(const Tensor& grad_output, const Tensor& output) {
  return fused_backward(OpId::relu_backward, OpId::relu, grad_output, output);
}
Tensor native_sigmoid_backward(const Tensor& grad_output, const Tensor& output) {
  return fused_backward(OpId::sigmoid_backward, OpId::sigmoid, grad_output, output);
}
Tensor native_tanh_backward(const Tensor& grad_output, const Tensor& output) {
  return fused_backward(OpId::tanh_backward, OpId::tanh, grad_output, output);
}
Tensor native_gelu_backward(const Tensor& grad_output, const Tensor& x, const std::string& approximate) {
  NN_CHECK(approximate == "none" || approximate == "tanh", ValueError,
           "gelu_backward: approximate must be 'none' or 'tanh', got '", approximate, "'");
  return fused_backward(OpId::gelu_backward, approximate == "tanh" ? OpId::gelu_tanh : OpId::gelu, grad_output, x);
}
Tensor native_silu_backward(const Tensor& grad_output, const Tensor& x) {
  return fused_backward(OpId::silu_backward, OpId::silu, grad_output, x);
}
Tensor native_hardswish_backward(const Tensor& grad_output, const Tensor& x) {
  return fused_backward(OpId::hardswish_backward, OpId::hardswish, grad_output, x);
}
Tensor native_mish_backward(const Tensor& grad_output, const Tensor& x) {
  return fused_backward(OpId::mish_backward, OpId::mish, grad_output, x);
}

}  // namespace nn
