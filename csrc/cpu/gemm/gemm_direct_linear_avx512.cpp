// gemm_direct_linear_avx512.cpp — small_m_colmajor_b_avx512, the direct (no packing)
// AVX-512 GEMM for the Linear layout (Note [Direct Linear-layout GEMM], gemm_driver.cpp):
//   A[m, k] = A[m*a_rs + k] (unit column stride), B[k, n] = B[n*b_cs + k] (B = W^T of a
//   weight W (N, K) stored row-major), C any strides; computes C rows [0, M) x columns
//   [n_begin, n_end) through the full epilogue (Note [GEMM epilogue order]).
// The generic small_m_colmajor_b_generic (gemm_kernel_generic.cpp) is its plain reference.
//
// Register tile: kRowBlock = 6 rows of A x 4 columns of B = 24 zmm accumulators; per k
// step of 16 it loads 4 vectors of W rows and 6 of A rows (10 loads, 24 FMAs). k is the
// vector dimension, with a masked tail; the 16 lanes of each accumulator are summed at
// the end (fold4 + sum4x4: 16 accumulators to one zmm in 10 shuffles and 10 adds).
// Loop order: columns outer, row blocks inner, so a block of 4 W rows (4*K floats, in L1
// for K up to ~2500) is read from memory once and reused for every block of rows of A,
// which stays in L2 (M*K floats); W is streamed exactly once per call. Row tails use
// 1..5-row instantiations, column tails (N % 4) one-column ones.
// Epilogue: for full 4-column tiles with unit column stride, a vector epilogue per row
// (alpha, beta only when != 0 so C may hold NaN, bias, relu; gelu afterwards through
// apply_gelu_tile); otherwise apply_epilogue_scalar, which takes any C strides.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 intrinsic headers (bug 105593)
#pragma GCC diagnostic ignored "-Wuninitialized"        // the same false positive
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm/gemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int kRowBlock = 6;
constexpr int kColBlock = 4;

inline __mmask16 tail_mask(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff)
                     : static_cast<__mmask16>((1u << count) - 1u);
}

// a0..a3: accumulators of one column for rows 0..3. Returns u whose 128-bit lane r holds
// four partial sums of row r.
inline __m512 fold4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m512 t0 = _mm512_add_ps(_mm512_shuffle_f32x4(a0, a1, 0x44), _mm512_shuffle_f32x4(a0, a1, 0xee));
  const __m512 t1 = _mm512_add_ps(_mm512_shuffle_f32x4(a2, a3, 0x44), _mm512_shuffle_f32x4(a2, a3, 0xee));
  return _mm512_add_ps(_mm512_shuffle_f32x4(t0, t1, 0x88), _mm512_shuffle_f32x4(t0, t1, 0xdd));
}

// u0..u3 from fold4 for columns 0..3: lane 4r + c of the result is the sum of (row r,
// column c).
inline __m512 sum4x4(__m512 u0, __m512 u1, __m512 u2, __m512 u3) {
  const __m512d v01 = _mm512_castps_pd(_mm512_add_ps(_mm512_unpacklo_ps(u0, u1), _mm512_unpackhi_ps(u0, u1)));
  const __m512d v23 = _mm512_castps_pd(_mm512_add_ps(_mm512_unpacklo_ps(u2, u3), _mm512_unpackhi_ps(u2, u3)));
  return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(v01, v23)),
                       _mm512_castpd_ps(_mm512_unpackhi_pd(v01, v23)));
}

TileEpilogue block_epilogue(const Epilogue& ep, int64_t row0, int64_t col0) {
  TileEpilogue t{ep.alpha, ep.beta, nullptr, ep.bias_kind, ep.act};
  if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerColumn) t.bias = ep.bias + col0;
  if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerRow) t.bias = ep.bias + row0;
  return t;
}

// C[row0 + r, col0 + c] for r < kRows, c < kCols from sums[r*4 + c].
template <int kRows, int kCols>
void store_block(const SmallMArgs& s, const float* sums, int64_t row0, int64_t col0) {
  const TileEpilogue ep = block_epilogue(s.ep, row0, col0);
  float* c = s.C + row0 * s.c_rs + col0 * s.c_cs;
  if (kCols != 4 || s.c_cs != 1) {
    apply_epilogue_scalar(sums, 4, c, s.c_rs, s.c_cs, kRows, kCols, ep);
    return;
  }
  const __m128 alpha = _mm_set1_ps(ep.alpha), beta = _mm_set1_ps(ep.beta);
  const bool use_beta = ep.beta != 0.0f;
  const bool col_bias = ep.bias != nullptr && ep.bias_kind == BiasKind::PerColumn;
  const bool row_bias = ep.bias != nullptr && ep.bias_kind == BiasKind::PerRow;
  const __m128 cbias = col_bias ? _mm_loadu_ps(ep.bias) : _mm_setzero_ps();
  for (int r = 0; r < kRows; ++r) {
    float* crow = c + r * s.c_rs;
    __m128 v = _mm_mul_ps(_mm_loadu_ps(sums + 4 * r), alpha);
    if (use_beta) v = _mm_fmadd_ps(beta, _mm_loadu_ps(crow), v);
    if (col_bias) v = _mm_add_ps(v, cbias);
    if (row_bias) v = _mm_add_ps(v, _mm_set1_ps(ep.bias[r]));
    if (ep.act == Activation::Relu) v = _mm_max_ps(_mm_setzero_ps(), v);  // NaN stays NaN
    _mm_storeu_ps(crow, v);
  }
  if (ep.act == Activation::Gelu) apply_gelu_tile(c, s.c_rs, kRows, 4);
}

// The kRows x kCols block of C at (row0, col0): dot products over all of K.
template <int kRows, int kCols>
void dot_block(const SmallMArgs& s, int64_t row0, int64_t col0) {
  constexpr int kRowsPad = (kRows + 3) / 4 * 4;
  __m512 acc[kRowsPad][kCols];
  for (int r = 0; r < kRowsPad; ++r)
    for (int c = 0; c < kCols; ++c) acc[r][c] = _mm512_setzero_ps();
  const float* a = s.A + row0 * s.a_rs;
  const float* b = s.B + col0 * s.b_cs;
  const int64_t a_rs = s.a_rs, b_cs = s.b_cs, K = s.K;
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 bv[kCols];
    // The next column block's rows of W: they stream from L3/memory at batch 1, and
    // prefetching them while this block computes hides that latency (a prefetch past the
    // end of W is harmless: it never faults).
    for (int c = 0; c < kCols; ++c) _mm_prefetch(reinterpret_cast<const char*>(b + (c + kCols) * b_cs + k), _MM_HINT_T0);
    for (int c = 0; c < kCols; ++c) bv[c] = _mm512_loadu_ps(b + c * b_cs + k);
    for (int r = 0; r < kRows; ++r) {
      const __m512 av = _mm512_loadu_ps(a + r * a_rs + k);
      for (int c = 0; c < kCols; ++c) acc[r][c] = _mm512_fmadd_ps(av, bv[c], acc[r][c]);
    }
  }
  if (k < K) {
    const __mmask16 mask = tail_mask(K - k);
    __m512 bv[kCols];
    for (int c = 0; c < kCols; ++c) bv[c] = _mm512_maskz_loadu_ps(mask, b + c * b_cs + k);
    for (int r = 0; r < kRows; ++r) {
      const __m512 av = _mm512_maskz_loadu_ps(mask, a + r * a_rs + k);
      for (int c = 0; c < kCols; ++c) acc[r][c] = _mm512_fmadd_ps(av, bv[c], acc[r][c]);
    }
  }
  alignas(64) float sums[kRowsPad * 4];
  if constexpr (kCols == 4) {
    for (int g = 0; g < kRowsPad; g += 4) {
      __m512 u[4];
      for (int c = 0; c < 4; ++c) u[c] = fold4(acc[g][c], acc[g + 1][c], acc[g + 2][c], acc[g + 3][c]);
      _mm512_store_ps(sums + 4 * g, sum4x4(u[0], u[1], u[2], u[3]));
    }
  } else {
    for (int r = 0; r < kRows; ++r)
      for (int c = 0; c < kCols; ++c) sums[4 * r + c] = _mm512_reduce_add_ps(acc[r][c]);
  }
  store_block<kRows, kCols>(s, sums, row0, col0);
}

// All rows of A against kCols columns of B starting at col0.
template <int kCols>
void column_block(const SmallMArgs& s, int64_t col0) {
  int64_t m0 = 0;
  for (; m0 + kRowBlock <= s.M; m0 += kRowBlock) dot_block<kRowBlock, kCols>(s, m0, col0);
  switch (s.M - m0) {
    case 1: dot_block<1, kCols>(s, m0, col0); break;
    case 2: dot_block<2, kCols>(s, m0, col0); break;
    case 3: dot_block<3, kCols>(s, m0, col0); break;
    case 4: dot_block<4, kCols>(s, m0, col0); break;
    case 5: dot_block<5, kCols>(s, m0, col0); break;
    default: break;
  }
  static_assert(kRowBlock == 6, "the row-tail switch covers 1..kRowBlock-1");
}

}  // namespace

void small_m_colmajor_b_avx512(const SmallMArgs& s, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + kColBlock <= n_end; n += kColBlock) column_block<kColBlock>(s, n);
  for (; n < n_end; ++n) column_block<1>(s, n);
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
