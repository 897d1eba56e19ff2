// conv_depthwise_fast_avx512.cpp — the register-accumulator depthwise kernels
// (conv_depthwise_fast_impl.h) on 16-lane AVX-512 vectors with mask registers; chosen
// at run time by conv_kernels.cpp for sw 1 or 2. The input gradient (stride 1,
// multiplier 1) is the forward kernel on gy with the flipped taps (conv_kernels.cpp).
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsic headers (bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/conv_kernels.h"

namespace nn::cpu {
namespace {

struct V512 {
  static constexpr int kLanes = 16;
  using Reg = __m512;
  using Mask = __mmask16;
  static Mask mask(unsigned bits) { return static_cast<__mmask16>(bits); }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg set1(float v) { return _mm512_set1_ps(v); }
  static Reg load(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Mask m, Reg v) { _mm512_mask_storeu_ps(p, m, v); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg relu(Reg v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }  // max(0, NaN) = NaN
  static float sum(Reg v) { return _mm512_reduce_add_ps(v); }
};

#include "cpu/conv_depthwise_fast_impl.h"

}  // namespace

void depthwise_forward_fast_avx512(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                                 bool relu, int64_t i0, int64_t i1) {
  dw_fast_forward<V512>(g, x, w, bias, y, relu, i0, i1);
}

void depthwise_backward_weight_fast_avx512(const ConvGeom& g, const float* x, const float* gy, float* dw, int64_t c0,
                                         int64_t c1) {
  if (g.kh * g.kw > kDwMaxTaps) return depthwise_backward_weight_avx512(g, x, gy, dw, c0, c1);
  dw_fast_backward_weight<V512>(g, x, gy, dw, c0, c1);
}

void depthwise_backward_input_fast_avx512(const ConvGeom& g, const float* gy, const float* w, float* dx, int64_t i0,
                                     int64_t i1) {
  dw_fast_backward_input<V512>(g, gy, w, dx, i0, i1);
}

}  // namespace nn::cpu
