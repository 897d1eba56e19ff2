// attention_kernels_avx512.cpp — AVX-512 float versions of the attention row operations
// (contract in cpu/attention_rows.h). 16 lanes per step, a masked tail for the last
// n % 16 elements. exp is a Cody-Waite range reduction x = k*ln2 + r, |r| <= ln2/2, a
// degree-6 polynomial for e^r (relative error ~2e-7) and scalef for 2^k; inputs below
// -87 (including -inf from masks) give exactly 0.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 intrinsic headers (bug 105593)
#pragma GCC diagnostic ignored "-Wuninitialized"        // the same false positive
#include <immintrin.h>

#include "cpu/attention_rows.h"

namespace nn::cpu::attn {
namespace {

inline __m512 exp512(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.0f);
  const __mmask16 live = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
  x = _mm512_max_ps(x, lo);
  x = _mm512_min_ps(x, _mm512_set1_ps(88.5f));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(live, _mm512_scalef_ps(p, k));
}

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

float mask_max_avx512(float* s, const float* mask, int64_t n, int64_t n_visible) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  if (n_visible < 0) n_visible = 0;
  __m512 m = ninf;
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 t = tail_mask(n - j);
    __m512 x = _mm512_maskz_loadu_ps(t, s + j);
    if (mask != nullptr) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(t, mask + j));
    if (j + 16 > n_visible) {  // causal cut inside this vector
      const int64_t vis = n_visible - j;
      const __mmask16 keep = vis <= 0 ? static_cast<__mmask16>(0) : tail_mask(vis);
      x = _mm512_mask_mov_ps(ninf, keep, x);
    }
    _mm512_mask_storeu_ps(s + j, t, x);
    m = _mm512_mask_max_ps(m, t, m, x);
  }
  return _mm512_reduce_max_ps(m);
}

float exp_sum_avx512(float* s, int64_t n, float m) {
  if (std::isinf(m) && m > 0) {
    for (int64_t j = 0; j < n; ++j) s[j] = 0;
    return 0;
  }
  const __m512 vm = _mm512_set1_ps(m);
  __m512 acc = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(s + j), vm));
    _mm512_storeu_ps(s + j, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (j < n) {
    const __mmask16 t = tail_mask(n - j);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, s + j), vm));
    _mm512_mask_storeu_ps(s + j, t, e);
    acc = _mm512_mask_add_ps(acc, t, acc, e);
  }
  return _mm512_reduce_add_ps(acc);
}

void scale_avx512(float* x, int64_t n, float a) {
  const __m512 va = _mm512_set1_ps(a);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 t = tail_mask(n - j);
    _mm512_mask_storeu_ps(x + j, t, _mm512_mul_ps(_mm512_maskz_loadu_ps(t, x + j), va));
  }
}

void softmax_grad_avx512(float* ds, const float* p, const float* dp, int64_t n, float d) {
  const __m512 vd = _mm512_set1_ps(d);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 t = tail_mask(n - j);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(t, p + j),
                                   _mm512_sub_ps(_mm512_maskz_loadu_ps(t, dp + j), vd));
    _mm512_mask_storeu_ps(ds + j, t, v);
  }
}

float dot_avx512(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 t = tail_mask(n - j);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(t, a + j), _mm512_maskz_loadu_ps(t, b + j), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace

RowOps<float> avx512_row_ops() {
  return {&mask_max_avx512, &exp_sum_avx512, &scale_avx512, &softmax_grad_avx512, &dot_avx512};
}

}  // namespace nn::cpu::attn
