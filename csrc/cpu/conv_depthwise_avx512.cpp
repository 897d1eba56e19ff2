// conv_depthwise_avx512.cpp — the depthwise direct kernels (conv_depthwise_impl.h) for
// float32, compiled with this unit's ISA flags (CMakeLists.txt) and chosen at run time
// by conv_kernels.cpp. The loops over output columns auto-vectorise.
#include "cpu/conv_kernels.h"

namespace nn::cpu {
namespace {
#include "cpu/conv_depthwise_impl.h"
}  // namespace

void depthwise_forward_avx512(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu,
                           int64_t i0, int64_t i1) {
  dw_forward_range<float>(g, x, w, bias, y, relu, i0, i1);
}
void depthwise_backward_input_avx512(const ConvGeom& g, const float* gy, const float* w, float* dx, int64_t i0,
                                  int64_t i1) {
  dw_backward_input_range<float>(g, gy, w, dx, i0, i1);
}
void depthwise_backward_weight_avx512(const ConvGeom& g, const float* x, const float* gy, float* dw, int64_t c0,
                                   int64_t c1) {
  dw_backward_weight_range<float>(g, x, gy, dw, c0, c1);
}

}  // namespace nn::cpu
