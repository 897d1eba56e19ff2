// quantize_kernels_avx2.cpp — AVX2 loops of the quantization ops (see quantize_kernels.h
// for the contract): the row min/max of dynamic per-row quantization and the quantizing
// loops to uint8 (any qmax <= 255: 255, or 127 for the 7-bit activations of the AVX2
// int8 GEMM) and int8. Same float operations in the same order as the scalar loops of
// quantize_kernels.cpp (multiply, round half to even, add the zero point, clamp with NaN
// -> qmin), so results are bit-identical to them; tests/test_int8.py checks it.
//
// Layout: x, q contiguous, any n; 32 floats per step (4 ymm -> one ymm of bytes), the
// tail of fewer than 32 goes through a zero-filled stack copy.
#include <immintrin.h>

#include <cstring>

#include "cpu/quantize_kernels.h"

namespace nn::cpu {
namespace {

// 8 lanes: nearbyint(x * inv) + zp, then max(., qmin) (NaN -> qmin: maxps returns its
// second operand when one is NaN) and min(., qmax).
inline __m256i quantize8(__m256 x, __m256 inv, __m256 zp, __m256 qmin, __m256 qmax) {
  __m256 r = _mm256_round_ps(_mm256_mul_ps(x, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_add_ps(r, zp);
  r = _mm256_min_ps(_mm256_max_ps(r, qmin), qmax);
  return _mm256_cvtps_epi32(r);  // already integral
}

// 32 int32 values (already in the byte range) of v0..v3 -> 32 bytes in order. The packs
// work per 128-bit lane, leaving dwords v0[0:4] v1[0:4] v2[0:4] v3[0:4] | v0[4:8] ...;
// the permute restores v0[0:8] v1[0:8] ...
template <bool kSigned>
inline __m256i pack32(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
  const __m256i p01 = _mm256_packs_epi32(v0, v1), p23 = _mm256_packs_epi32(v2, v3);
  const __m256i b = kSigned ? _mm256_packs_epi16(p01, p23) : _mm256_packus_epi16(p01, p23);
  return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

template <bool kSigned>
inline void quantize32(const float* x, float inv_s, float zp_s, float qmin_s, float qmax_s, void* q) {
  const __m256 inv = _mm256_set1_ps(inv_s), zp = _mm256_set1_ps(zp_s);
  const __m256 qmin = _mm256_set1_ps(qmin_s), qmax = _mm256_set1_ps(qmax_s);
  const __m256i v0 = quantize8(_mm256_loadu_ps(x), inv, zp, qmin, qmax);
  const __m256i v1 = quantize8(_mm256_loadu_ps(x + 8), inv, zp, qmin, qmax);
  const __m256i v2 = quantize8(_mm256_loadu_ps(x + 16), inv, zp, qmin, qmax);
  const __m256i v3 = quantize8(_mm256_loadu_ps(x + 24), inv, zp, qmin, qmax);
  _mm256_storeu_si256(static_cast<__m256i*>(q), pack32<kSigned>(v0, v1, v2, v3));
}

template <bool kSigned>
void quantize_loop(const float* x, int64_t n, float inv, float zp, float qmin, float qmax, void* q) {
  auto* out = static_cast<unsigned char*>(q);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) quantize32<kSigned>(x + i, inv, zp, qmin, qmax, out + i);
  if (i < n) {  // the tail through a zero-filled copy
    alignas(32) float xs[32] = {};
    alignas(32) unsigned char qs[32];
    const size_t left = static_cast<size_t>(n - i);
    std::memcpy(xs, x + i, left * sizeof(float));
    quantize32<kSigned>(xs, inv, zp, qmin, qmax, qs);
    std::memcpy(out + i, qs, left);
  }
}

inline float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

}  // namespace

void row_minmax_avx2(const float* x, int64_t n, float* lo, float* hi, bool* has_nan) {
  __m256 lo0 = _mm256_setzero_ps(), lo1 = lo0, hi0 = lo0, hi1 = lo0;
  __m256 nan = _mm256_setzero_ps();  // lanes of all ones where a NaN was seen
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    lo0 = _mm256_min_ps(lo0, a);
    hi0 = _mm256_max_ps(hi0, a);
    lo1 = _mm256_min_ps(lo1, b);
    hi1 = _mm256_max_ps(hi1, b);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(a, b, _CMP_UNORD_Q));  // a or b NaN
  }
  for (; i < n; i += 8) {
    const int64_t left = n - i;
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left < 8 ? left : 8)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 a = _mm256_maskload_ps(x + i, mask);  // masked lanes read 0: neutral here
    lo0 = _mm256_min_ps(lo0, a);
    hi0 = _mm256_max_ps(hi0, a);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  }
  *lo = hmin(_mm256_min_ps(lo0, lo1));
  *hi = hmax(_mm256_max_ps(hi0, hi1));
  *has_nan = _mm256_movemask_ps(nan) != 0;
}

void quantize_u8_avx2(const float* x, int64_t n, float inv, float zp, float qmax, uint8_t* q) {
  quantize_loop<false>(x, n, inv, zp, 0.0f, qmax, q);
}

void quantize_s8_avx2(const float* x, int64_t n, float inv, float zp, int8_t* q) {
  quantize_loop<true>(x, n, inv, zp, -128.0f, 127.0f, q);
}

}  // namespace nn::cpu
