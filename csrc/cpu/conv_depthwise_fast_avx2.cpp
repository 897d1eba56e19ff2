// conv_depthwise_fast_avx2.cpp — the register-accumulator depthwise kernels
// (conv_depthwise_fast_impl.h) on 8-lane AVX2 vectors (masks as lane vectors for
// maskload/maskstore); chosen at run time by conv_kernels.cpp for sw 1 or 2. The input
// gradient (stride 1, multiplier 1) is the forward kernel on gy with the flipped taps.
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
  dw_fast_backward_input<V256>(g, gy, w, dx, i0, i1);
}

}  // namespace nn::cpu
