// gemm_avx512_epilogue.h — the register-tile epilogue shared by the AVX-512 fp32 and
// bf16 microkernels: a tile of kRows x 32 fp32 accumulators (two zmm per row) is
// written to C as act(alpha*acc + beta*c + bias) (Note [GEMM epilogue order]).
// Only include from translation units compiled with AVX-512 flags (*_avx512*.cpp).
// Everything here has internal linkage so each ISA unit keeps its own copy.
#pragma once

#include <immintrin.h>

#include "cpu/gemm/gemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

inline __mmask16 avx512_lane_mask(int count) {
  if (count >= 16) return static_cast<__mmask16>(0xffff);
  if (count <= 0) return 0;
  return static_cast<__mmask16>((1u << count) - 1u);
}

// C rows [0, kRows) x columns [0, n), n <= 32, unit column stride. beta == 0 never
// reads C; columns >= n are neither read nor written (masked).
template <int kRows>
inline void store_tile_avx512(const __m512* acc_lo, const __m512* acc_hi, float* c,
                              int64_t c_rs, int n, const TileEpilogue& ep) {
  const __mmask16 mask_lo = avx512_lane_mask(n);
  const __mmask16 mask_hi = avx512_lane_mask(n - 16);
  const __m512 alpha = _mm512_set1_ps(ep.alpha);
  const __m512 beta = _mm512_set1_ps(ep.beta);
  const bool use_beta = ep.beta != 0.0f;
  const bool col_bias = ep.bias != nullptr && ep.bias_kind == BiasKind::PerColumn;
  const bool row_bias = ep.bias != nullptr && ep.bias_kind == BiasKind::PerRow;
  const bool relu = ep.act == Activation::Relu;
  __m512 bias_lo = _mm512_setzero_ps();
  __m512 bias_hi = _mm512_setzero_ps();
  if (col_bias) {
    bias_lo = _mm512_maskz_loadu_ps(mask_lo, ep.bias);
    bias_hi = _mm512_maskz_loadu_ps(mask_hi, ep.bias + 16);
  }
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    float* crow = c + i * c_rs;
    __m512 lo = _mm512_mul_ps(acc_lo[i], alpha);
    __m512 hi = _mm512_mul_ps(acc_hi[i], alpha);
    if (use_beta) {
      lo = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(mask_lo, crow), lo);
      hi = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(mask_hi, crow + 16), hi);
    }
    if (col_bias) {
      lo = _mm512_add_ps(lo, bias_lo);
      hi = _mm512_add_ps(hi, bias_hi);
    } else if (row_bias) {
      const __m512 rb = _mm512_set1_ps(ep.bias[i]);
      lo = _mm512_add_ps(lo, rb);
      hi = _mm512_add_ps(hi, rb);
    }
    if (relu) {
      lo = _mm512_max_ps(lo, _mm512_setzero_ps());
      hi = _mm512_max_ps(hi, _mm512_setzero_ps());
    }
    _mm512_mask_storeu_ps(crow, mask_lo, lo);
    _mm512_mask_storeu_ps(crow + 16, mask_hi, hi);
  }
  if (ep.act == Activation::Gelu) apply_gelu_tile(c, c_rs, kRows, n);
}

}  // namespace
}  // namespace detail
}  // namespace gemm
}  // namespace nn
