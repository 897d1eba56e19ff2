// attention_kernels_avx2.cpp — AVX2+FMA float versions of the attention row operations
// (contract in cpu/attention_rows.h), used by the blocked kernels on AVX2 (dropout, and
// fewer than 6 queries). 8 lanes per step, a masked tail (maskload / maskstore) for the
// last n % 8 elements. exp is the Cody-Waite reduction of attention_kernels_avx512.cpp,
// x = k*ln2 + r, |r| <= ln2/2, a degree-6 polynomial for e^r (relative error ~2e-7), with
// 2^k built in the exponent bits; inputs below -87 (including -inf from masks) give
// exactly 0, inputs above 88 are taken as 88 (the softmax only sees x <= 0), and a NaN
// stays NaN.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 intrinsic headers (bug 105593)
#pragma GCC diagnostic ignored "-Wuninitialized"        // the same false positive
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "cpu/attention_rows.h"

namespace nn::cpu::attn {
namespace {

#include "cpu/vec_avx2.h"

// Max of the lanes; NaN if any lane is NaN (as the generic mask_max).
inline float horizontal_max(__m256 v) {
  alignas(32) float x[8];
  _mm256_store_ps(x, v);
  float m = x[0];
  for (int i = 1; i < 8; ++i) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
  return m;
}

// e^x; max/min return their second operand when one is NaN, so the clamp keeps a NaN.
inline __m256 exp256(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.0f);
  const __m256 live = _mm256_cmp_ps(x, lo, _CMP_NLT_UQ);  // x >= -87 or NaN
  x = _mm256_max_ps(lo, x);
  x = _mm256_min_ps(_mm256_set1_ps(88.0f), x);
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // 2^k in the exponent bits: the clamp keeps k in -126 .. 127, a normal float.
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), live);
}

float mask_max_avx2(float* s, const float* mask, int64_t n, int64_t n_visible) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  if (n_visible < 0) n_visible = 0;
  __m256 m = ninf;
  for (int64_t j = 0; j < n; j += 8) {
    const __m256i t = lane_mask(n - j);
    __m256 x = _mm256_maskload_ps(s + j, t);
    if (mask != nullptr) x = _mm256_add_ps(x, _mm256_maskload_ps(mask + j, t));
    if (j + 8 > n_visible)  // causal cut inside this vector
      x = _mm256_blendv_ps(ninf, x, _mm256_castsi256_ps(lane_mask(n_visible - j)));
    _mm256_maskstore_ps(s + j, t, x);
    x = _mm256_blendv_ps(ninf, x, _mm256_castsi256_ps(t));  // lanes past n do not count
    // m = x where x > m or x is NaN: a NaN score wins, as in the generic version.
    m = _mm256_blendv_ps(m, x, _mm256_or_ps(_mm256_cmp_ps(x, m, _CMP_GT_OQ), _mm256_cmp_ps(x, x, _CMP_UNORD_Q)));
  }
  return horizontal_max(m);
}

float exp_sum_avx2(float* s, int64_t n, float m) {
  if (std::isinf(m) && m > 0) {
    for (int64_t j = 0; j < n; ++j) s[j] = 0;
    return 0;
  }
  const __m256 vm = _mm256_set1_ps(m);
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    _mm256_storeu_ps(s + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (j < n) {
    const __m256i t = lane_mask(n - j);
    const __m256 e = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(s + j, t), vm)), _mm256_castsi256_ps(t));
    _mm256_maskstore_ps(s + j, t, e);
    acc = _mm256_add_ps(acc, e);
  }
  return horizontal_sum(acc);
}

void scale_avx2(float* x, int64_t n, float a) {
  const __m256 va = _mm256_set1_ps(a);
  for (int64_t j = 0; j < n; j += 8) {
    const __m256i t = lane_mask(n - j);
    _mm256_maskstore_ps(x + j, t, _mm256_mul_ps(_mm256_maskload_ps(x + j, t), va));
  }
}

void softmax_grad_avx2(float* ds, const float* p, const float* dp, int64_t n, float d) {
  const __m256 vd = _mm256_set1_ps(d);
  for (int64_t j = 0; j < n; j += 8) {
    const __m256i t = lane_mask(n - j);
    const __m256 v = _mm256_mul_ps(_mm256_maskload_ps(p + j, t), _mm256_sub_ps(_mm256_maskload_ps(dp + j, t), vd));
    _mm256_maskstore_ps(ds + j, t, v);
  }
}

float dot_avx2(const float* a, const float* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t j = 0; j < n; j += 8) {
    const __m256i t = lane_mask(n - j);
    acc = _mm256_fmadd_ps(_mm256_maskload_ps(a + j, t), _mm256_maskload_ps(b + j, t), acc);
  }
  return horizontal_sum(acc);
}

}  // namespace

RowOps<float> avx2_row_ops() {
  return {&mask_max_avx2, &exp_sum_avx2, &scale_avx2, &softmax_grad_avx2, &dot_avx2};
}

}  // namespace nn::cpu::attn
