// conv_kernels.h — shared geometry of the convolution kernels (cpu/conv_kernels.cpp)
// and the direct nested-loop references (cpu/conv_ref.cpp) the fast paths are tested
// against (nn_core._C._conv2d_reference / _conv2d_backward_reference).
//
// Layout: x (N, C, H, W), w (Cout, C/groups, kh, kw), y (N, Cout, OH, OW), contiguous.
#pragma once
#include "kernels/dispatch.h"

namespace nn::cpu {

struct ConvGeom {
  int64_t N, C, H, W, Cout, kh, kw, OH, OW, G, Cg, Og, K, P;
  int64_t sh, sw, ph, pw, dh, dw;
  bool pointwise;  // 1x1, stride 1, no padding: the input is its own im2col matrix
};
ConvGeom conv_geom(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p);

// Depthwise float32 kernels over a range of items, one copy per ISA unit
// (conv_depthwise_impl.h; conv_depthwise_avx512.cpp, conv_depthwise_avx2.cpp).
using DepthwiseForwardFn = void (*)(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                                    bool relu, int64_t i0, int64_t i1);
using DepthwiseBackwardInputFn = void (*)(const ConvGeom& g, const float* gy, const float* w, float* dx, int64_t i0,
                                          int64_t i1);
using DepthwiseBackwardWeightFn = void (*)(const ConvGeom& g, const float* x, const float* gy, float* dw, int64_t c0,
                                           int64_t c1);
#define NN_DECLARE_DEPTHWISE(isa)                                                                               \
  void depthwise_forward_##isa(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,  \
                               bool relu, int64_t i0, int64_t i1);                                             \
  void depthwise_backward_input_##isa(const ConvGeom& g, const float* gy, const float* w, float* dx, int64_t i0, \
                                      int64_t i1);                                                             \
  void depthwise_backward_weight_##isa(const ConvGeom& g, const float* x, const float* gy, float* dw,          \
                                       int64_t c0, int64_t c1);
NN_DECLARE_DEPTHWISE(avx512)
// sw 1 or 2 (conv_depthwise_fast_impl.h; conv_depthwise_fast_avx512.cpp / _avx2.cpp):
// register accumulators, masked borders.
#define NN_DECLARE_DEPTHWISE_FAST(isa)                                                                             \
  void depthwise_forward_fast_##isa(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, \
                                  bool relu, int64_t i0, int64_t i1);                                            \
  void depthwise_backward_weight_fast_##isa(const ConvGeom& g, const float* x, const float* gy, float* dw,          \
                                          int64_t c0, int64_t c1);                                                     \
  void depthwise_backward_input_fast_##isa(const ConvGeom& g, const float* gy, const float* w, float* dx, int64_t i0, \
                                         int64_t i1);
NN_DECLARE_DEPTHWISE_FAST(avx512)
NN_DECLARE_DEPTHWISE_FAST(avx2)
#undef NN_DECLARE_DEPTHWISE_FAST
NN_DECLARE_DEPTHWISE(avx2)
#undef NN_DECLARE_DEPTHWISE

// y = conv2d(x, w) + bias: direct loops, float64 accumulation; x, w, bias (or
// undefined) float32/float64 contiguous; y preallocated (N, Cout, OH, OW), x's dtype.
void conv2d_reference(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y, const Conv2dParams& p);
// dx = dL/dx, dw = dL/dw for L = sum(gy * conv2d(x, w)); direct loops; dx, dw
// preallocated contiguous (overwritten).
void conv2d_backward_reference(const Tensor& x, const Tensor& w, const Tensor& gy, const Tensor& dx, const Tensor& dw,
                               const Conv2dParams& p);

}  // namespace nn::cpu
