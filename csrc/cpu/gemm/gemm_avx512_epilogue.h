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

// The per-tile constants of the epilogue, loaded once per tile.
struct Avx512TileEpilogue {
  __mmask16 mask_lo, mask_hi;
  __m512 alpha, beta, bias_lo, bias_hi;
  bool use_beta, col_bias, row_bias, relu;

  Avx512TileEpilogue(int n, const TileEpilogue& ep)
      : mask_lo(avx512_lane_mask(n)),
        mask_hi(avx512_lane_mask(n - 16)),
        alpha(_mm512_set1_ps(ep.alpha)),
        beta(_mm512_set1_ps(ep.beta)),
        bias_lo(_mm512_setzero_ps()),
        bias_hi(_mm512_setzero_ps()),
        use_beta(ep.beta != 0.0f),
        col_bias(ep.bias != nullptr && ep.bias_kind == BiasKind::PerColumn),
        row_bias(ep.bias != nullptr && ep.bias_kind == BiasKind::PerRow),
        relu(ep.act == Activation::Relu) {
    if (col_bias) {
      bias_lo = _mm512_maskz_loadu_ps(mask_lo, ep.bias);
      bias_hi = _mm512_maskz_loadu_ps(mask_hi, ep.bias + 16);
    }
  }

  // Row i of the tile: 32 accumulators in (lo, hi) to crow[0, n). Gelu is not applied.
  inline void store_row(__m512 lo, __m512 hi, float* crow, int i, const TileEpilogue& ep) const {
    lo = _mm512_mul_ps(lo, alpha);
    hi = _mm512_mul_ps(hi, alpha);
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
      lo = _mm512_max_ps(_mm512_setzero_ps(), lo);
      hi = _mm512_max_ps(_mm512_setzero_ps(), hi);
    }
    _mm512_mask_storeu_ps(crow, mask_lo, lo);
    _mm512_mask_storeu_ps(crow + 16, mask_hi, hi);
  }
};

// C rows [0, kRows) x columns [0, n), n <= 32, unit column stride. beta == 0 never
// reads C; columns >= n are neither read nor written (masked).
template <int kRows>
inline void store_tile_avx512(const __m512* acc_lo, const __m512* acc_hi, float* c,
                              int64_t c_rs, int n, const TileEpilogue& ep) {
  const Avx512TileEpilogue tile(n, ep);
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) tile.store_row(acc_lo[i], acc_hi[i], c + i * c_rs, i, ep);
  if (ep.act == Activation::Gelu) apply_gelu_tile(c, c_rs, kRows, n);
}

// Same, from accumulators in memory (row i at acc + i*acc_rs, 32 floats), m rows.
inline void store_buffered_tile_avx512(const float* acc, int64_t acc_rs, int m, float* c,
                                       int64_t c_rs, int n, const TileEpilogue& ep) {
  const Avx512TileEpilogue tile(n, ep);
  for (int i = 0; i < m; ++i) {
    tile.store_row(_mm512_loadu_ps(acc + i * acc_rs), _mm512_loadu_ps(acc + i * acc_rs + 16),
                   c + i * c_rs, i, ep);
  }
  if (ep.act == Activation::Gelu) apply_gelu_tile(c, c_rs, m, n);
}

}  // namespace
}  // namespace detail
}  // namespace gemm
}  // namespace nn
