// conv_depthwise_fast_avx2.cpp — the register-accumulator depthwise kernels
// (conv_depthwise_fast_impl.h) on 8-lane AVX2 vectors (masks as lane vectors for
// maskload/maskstore); chosen at run time by conv_kernels.cpp for sw 1 or 2. The input
// gradient with stride 1 and multiplier 1 is the forward kernel on gy with the flipped
// taps (conv_kernels.cpp), otherwise the gather kernel.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/conv_kernels.h"

namespace nn::cpu {
namespace {

struct V256 {
  static constexpr int kLanes = 8;
  using Reg = __m256;
  using Mask = __m256i;
  static Mask mask(unsigned bits) {
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(bits)), lane), lane);
  }
  static constexpr bool kCheapMasks = false;  // Note [Depthwise full masks]
  static Reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg set1(float v) { return _mm256_set1_ps(v); }
  static Reg load(Mask m, const float* p) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, Mask m, Reg v) { _mm256_maskstore_ps(p, m, v); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg relu(Reg v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }  // max(0, NaN) = NaN
  static float sum(Reg v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
  }
  static int64_t deinterleave(const float* in, int64_t n, float* even, float* odd) {
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
      const __m256 a = _mm256_loadu_ps(in + 2 * k), b = _mm256_loadu_ps(in + 2 * k + 8);
      // [a0 a2 b0 b2 | a4 a6 b4 b6] -> 64-bit lanes 0 2 1 3 -> [a0 a2 a4 a6 b0 b2 b4 b6]
      const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
      const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
      _mm256_storeu_ps(even + k, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8)));
      _mm256_storeu_ps(odd + k, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xd8)));
    }
    return k;
  }
  static int64_t interleave(const float* even, const float* odd, int64_t n, float* out) {
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
      const __m256 e = _mm256_loadu_ps(even + k), o = _mm256_loadu_ps(odd + k);
      const __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);  // [e0 o0 e1 o1 | e4 o4 e5 o5], [e2 ..]
      _mm256_storeu_ps(out + 2 * k, _mm256_permute2f128_ps(lo, hi, 0x20));
      _mm256_storeu_ps(out + 2 * k + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
    return k;
  }
};

#include "cpu/conv_depthwise_fast_impl.h"

}  // namespace

void depthwise_forward_fast_avx2(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                               bool relu, int64_t i0, int64_t i1) {
  dw_fast_forward<V256>(g, x, w, bias, y, relu, i0, i1);
}

void depthwise_backward_weight_fast_avx2(const ConvGeom& g, const float* x, const float* gy, float* dw, int64_t c0,
                                       int64_t c1) {
  if (g.kh * g.kw > kDwMaxTaps) return depthwise_backward_weight_avx2(g, x, gy, dw, c0, c1);
  dw_fast_backward_weight<V256>(g, x, gy, dw, c0, c1);
}

void depthwise_backward_input_fast_avx2(const ConvGeom& g, const float* gy, const float* w, float* dx, int64_t i0,
                                     int64_t i1) {
  if (g.kh > kDwMaxRows) return depthwise_backward_input_avx2(g, gy, w, dx, i0, i1);
  dw_fast_backward_input<V256>(g, gy, w, dx, i0, i1);
}

}  // namespace nn::cpu
