// reference_ops.cpp — the reference entry points of reference_ops.h: argument and shape
// checks, contiguous inputs, output allocation, then the direct-loop kernels.
#include "testing/reference_ops.h"

#include "cpu/conv_kernels.h"
#include "cpu/kernels.h"
#include "ops/internal.h"

namespace nn::reference {
namespace {

Conv2dParams conv_params(const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                         const std::vector<int64_t>& dilation, int64_t groups, const char* op) {
  const auto s = detail::pair_arg(stride, op, "stride", 1);
  const auto p = detail::pair_arg(padding, op, "padding", 0);
  const auto d = detail::pair_arg(dilation, op, "dilation", 1);
  Conv2dParams out;
  for (int i = 0; i < 2; ++i) {
    out.stride[i] = s[i];
    out.padding[i] = p[i];
    out.dilation[i] = d[i];
  }
  out.groups = groups;
  return out;
}

// The output shape of the reference conv; checks what the direct loops rely on.
Shape conv_out_shape(const Tensor& x, const Tensor& w, const Conv2dParams& p, const char* op) {
  NN_CHECK(x.dim() == 4 && w.dim() == 4 && p.groups >= 1 && x.sizes()[1] == w.sizes()[1] * p.groups &&
               w.sizes()[0] % p.groups == 0 && x.dtype() == w.dtype(),
           ValueError, op, ": expects matching 4-D x (N, C, H, W) and w (Cout, C/groups, kh, kw)");
  NN_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, DTypeError, op,
           ": expects float32 or float64, got ", x.dtype());
  Shape out{x.sizes()[0], w.sizes()[0], 0, 0};
  for (int i = 0; i < 2; ++i) {
    const int64_t span = x.sizes()[2 + i] + 2 * p.padding[i] - p.dilation[i] * (w.sizes()[2 + i] - 1) - 1;
    NN_CHECK(span >= 0, ValueError, op, ": kernel larger than the padded input");
    out[2 + i] = span / p.stride[i] + 1;
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  NN_CHECK(a.dim() == 3 && b.dim() == 3 && a.sizes()[0] == b.sizes()[0] && a.sizes()[2] == b.sizes()[1] &&
               (a.dtype() == DType::Float32 || a.dtype() == DType::Float64) && a.dtype() == b.dtype(),
           ValueError, "_matmul_reference: expects float32/float64 (B, M, K) and (B, K, N)");
  Tensor out = empty({a.sizes()[0], a.sizes()[1], b.sizes()[2]}, a.dtype());
  cpu::matmul_reference(a, b, out);
  return out;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups) {
  const char* op = "_conv2d_reference";
  const Conv2dParams p = conv_params(stride, padding, dilation, groups, op);
  Tensor xc = contiguous(x), wc = contiguous(w), bc = bias.defined() ? contiguous(bias) : Tensor();
  NN_CHECK(!bc.defined() || (bc.dim() == 1 && bc.sizes()[0] == wc.sizes()[0] && bc.dtype() == x.dtype()),
           ValueError, op, ": bias must be 1-D with one value per output channel, in the input's dtype");
  Tensor y = empty(conv_out_shape(xc, wc, p, op), x.dtype());
  cpu::conv2d_reference(xc, wc, bc, y, p);
  return y;
}

std::pair<Tensor, Tensor> conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& gy,
                                          const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                                          const std::vector<int64_t>& dilation, int64_t groups) {
  const char* op = "_conv2d_backward_reference";
  const Conv2dParams p = conv_params(stride, padding, dilation, groups, op);
  Tensor xc = contiguous(x), wc = contiguous(w), gc = contiguous(gy);
  NN_CHECK(gc.sizes() == conv_out_shape(xc, wc, p, op) && gc.dtype() == x.dtype(), ValueError, op,
           ": grad_output must have the output's shape and dtype");
  Tensor dx = empty(xc.sizes(), x.dtype()), dw = empty(wc.sizes(), x.dtype());
  cpu::conv2d_backward_reference(xc, wc, gc, dx, dw, p);
  return {dx, dw};
}

}  // namespace nn::reference
