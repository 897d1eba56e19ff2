// conv_kernels.h — shared geometry of the convolution kernels (cpu/conv_kernels.cpp)
// and the direct nested-loop references (cpu/conv_ref.cpp) the fast paths are tested
// against (nn_core._C._conv2d_reference / _conv2d_backward_reference).
//
// Layout: x (N, C, H, W), w (Cout, C/groups, kh, kw), y (N, Cout, OH, OW), contiguous.
#pragma once
#include "ops/dispatch.h"

namespace nn::cpu {

struct ConvGeom {
  int64_t N, C, H, W, Cout, kh, kw, OH, OW, G, Cg, Og, K, P;
  int64_t sh, sw, ph, pw, dh, dw;
  bool pointwise;  // 1x1, stride 1, no padding: the input is its own im2col matrix
};
ConvGeom conv_geom(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p);

// y = conv2d(x, w) + bias: direct loops, float64 accumulation; x, w, bias (or
// undefined) float32/float64 contiguous; y preallocated (N, Cout, OH, OW), x's dtype.
void conv2d_reference(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y, const Conv2dParams& p);
// dx = dL/dx, dw = dL/dw for L = sum(gy * conv2d(x, w)); direct loops; dx, dw
// preallocated contiguous (overwritten).
void conv2d_backward_reference(const Tensor& x, const Tensor& w, const Tensor& gy, const Tensor& dx, const Tensor& dw,
                               const Conv2dParams& p);

}  // namespace nn::cpu
