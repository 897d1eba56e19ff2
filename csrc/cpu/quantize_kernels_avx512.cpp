// quantize_kernels_avx512.cpp — AVX-512 loops of the quantization ops (see
// quantize_kernels.h for the contract). n may be any size: the tail is masked.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 intrinsic headers (bug 105593)
#pragma GCC diagnostic ignored "-Wuninitialized"       // (the same false positive in the reductions)
#include <immintrin.h>

#include "cpu/quantize_kernels.h"

namespace nn::cpu {
namespace {

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
}

// 16 lanes: nearbyint(x * inv) + zp, then max(., qmin) (NaN -> qmin) and min(., qmax).
inline __m512i quantize16(__m512 x, __m512 inv, __m512 zp, __m512 qmin, __m512 qmax) {
  __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(x, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm512_add_ps(r, zp);
  r = _mm512_min_ps(_mm512_max_ps(r, qmin), qmax);
  return _mm512_cvtps_epi32(r);
}

}  // namespace

void row_minmax_avx512(const float* x, int64_t n, float* lo, float* hi, bool* has_nan) {
  __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
  __mmask16 nan = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);  // masked lanes read 0: neutral here
    vlo = _mm512_min_ps(vlo, v);
    vhi = _mm512_max_ps(vhi, v);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  }
  *lo = _mm512_reduce_min_ps(vlo);
  *hi = _mm512_reduce_max_ps(vhi);
  *has_nan = nan != 0;
}

void quantize_u8_avx512(const float* x, int64_t n, float inv, float zp, float qmax_value, uint8_t* q) {
  const __m512 vinv = _mm512_set1_ps(inv), vzp = _mm512_set1_ps(zp);
  const __m512 qmin = _mm512_setzero_ps(), qmax = _mm512_set1_ps(qmax_value);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512i v = quantize16(_mm512_maskz_loadu_ps(m, x + i), vinv, vzp, qmin, qmax);
    _mm512_mask_cvtusepi32_storeu_epi8(q + i, m, v);
  }
}

void quantize_s8_avx512(const float* x, int64_t n, float inv, float zp, int8_t* q) {
  const __m512 vinv = _mm512_set1_ps(inv), vzp = _mm512_set1_ps(zp);
  const __m512 qmin = _mm512_set1_ps(-128.0f), qmax = _mm512_set1_ps(127.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512i v = quantize16(_mm512_maskz_loadu_ps(m, x + i), vinv, vzp, qmin, qmax);
    _mm512_mask_cvtsepi32_storeu_epi8(q + i, m, v);
  }
}

}  // namespace nn::cpu
