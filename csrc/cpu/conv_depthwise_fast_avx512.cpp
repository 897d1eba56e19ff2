// conv_depthwise_fast_avx512.cpp — the register-accumulator depthwise kernels
// (conv_depthwise_fast_impl.h) on 16-lane AVX-512 vectors with mask registers; chosen
// at run time by conv_kernels.cpp for sw 1 or 2. The input gradient with stride 1 and
// multiplier 1 is the forward kernel on gy with the flipped taps (conv_kernels.cpp),
// otherwise the gather kernel.
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
  static constexpr bool kCheapMasks = true;  // Note [Depthwise full masks]
  static Reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg set1(float v) { return _mm512_set1_ps(v); }
  static Reg load(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Mask m, Reg v) { _mm512_mask_storeu_ps(p, m, v); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg relu(Reg v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }  // max(0, NaN) = NaN
  static float sum(Reg v) { return _mm512_reduce_add_ps(v); }
  static int64_t deinterleave(const float* in, int64_t n, float* even, float* odd) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
      const __m512 a = _mm512_loadu_ps(in + 2 * k), b = _mm512_loadu_ps(in + 2 * k + 16);
      _mm512_storeu_ps(even + k, _mm512_permutex2var_ps(a, ie, b));
      _mm512_storeu_ps(odd + k, _mm512_permutex2var_ps(a, io, b));
    }
    return k;
  }
  static int64_t interleave(const float* even, const float* odd, int64_t n, float* out) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
      const __m512 e = _mm512_loadu_ps(even + k), o = _mm512_loadu_ps(odd + k);
      _mm512_storeu_ps(out + 2 * k, _mm512_permutex2var_ps(e, lo, o));
      _mm512_storeu_ps(out + 2 * k + 16, _mm512_permutex2var_ps(e, hi, o));
    }
    return k;
  }
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
  if (g.kh > kDwMaxRows) return depthwise_backward_input_avx512(g, gy, w, dx, i0, i1);
  dw_fast_backward_input<V512>(g, gy, w, dx, i0, i1);
}

}  // namespace nn::cpu
