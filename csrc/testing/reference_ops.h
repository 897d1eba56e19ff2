// reference_ops.h (csrc/testing: the top layer, above cpu and ops) — tensor-level entry points of the plain reference kernels that the tests
// compare the fast paths with (nn_core._C._matmul_reference, _conv2d_reference,
// _conv2d_backward_reference). They check shapes, make inputs contiguous, allocate the
// outputs and call the direct-loop kernels (cpu/kernels.h, cpu/conv_kernels.h). No
// autograd, no tracing, no dispatch: always the reference, on the CPU.
#pragma once
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nn::reference {

// (B, M, K) @ (B, K, N) -> (B, M, N); float32 or float64, both the same dtype.
Tensor matmul(const Tensor& a, const Tensor& b);

// conv2d of x (N, C, H, W) with w (Cout, C/groups, kh, kw) plus bias (or undefined);
// stride, padding, dilation: one value or a pair each. float32 / float64, accumulated in
// float64.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups);
// (dx, dw) of L = sum(gy * conv2d(x, w)); gy has conv2d's output shape and x's dtype.
std::pair<Tensor, Tensor> conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& gy,
                                          const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                                          const std::vector<int64_t>& dilation, int64_t groups);

}  // namespace nn::reference
