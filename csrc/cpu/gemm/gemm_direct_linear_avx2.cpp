// gemm_direct_linear_avx2.cpp — small_m_colmajor_b_avx2, the direct (no packing) AVX2
// GEMM for the Linear layout; the same contract, loop order and epilogue as the AVX-512
// kernel in gemm_direct_linear_avx512.cpp (Note [Direct Linear-layout GEMM],
// gemm_driver.cpp), whose plain reference is small_m_colmajor_b_generic.
//
// Register tile: kRowBlock = 2 rows of A x 4 columns of B = 8 ymm accumulators; per k
// step of 8 it loads 4 vectors of W rows and 2 of A rows (6 loads, 8 FMAs), which keeps
// the two FMA ports busy within the 16 ymm registers (3 rows would need 12 accumulators
// + 4 W vectors and reload A for each FMA). The masked k tail uses vmaskmov loads; the
// 8 lanes of each accumulator are summed at the end with hadd (one xmm of 4 column
// sums per row).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/gemm/gemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int kRowBlock = 2;
constexpr int kColBlock = 4;

inline __m256i lane_mask(int64_t count) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int c = static_cast<int>(std::clamp<int64_t>(count, 0, 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), lanes);
}

// Lane c of the result is the sum of the 8 lanes of a_c.
inline __m128 sum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

inline float sum1(__m256 a) {
  const __m128 x = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 y = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(y, _mm_movehdup_ps(y)));
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

template <int kRows, int kCols>
void dot_block(const SmallMArgs& s, int64_t row0, int64_t col0) {
  __m256 acc[kRows][kCols];
  for (int r = 0; r < kRows; ++r)
    for (int c = 0; c < kCols; ++c) acc[r][c] = _mm256_setzero_ps();
  const float* a = s.A + row0 * s.a_rs;
  const float* b = s.B + col0 * s.b_cs;
  const int64_t a_rs = s.a_rs, b_cs = s.b_cs, K = s.K;
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 bv[kCols];
    for (int c = 0; c < kCols; ++c) bv[c] = _mm256_loadu_ps(b + c * b_cs + k);
    for (int r = 0; r < kRows; ++r) {
      const __m256 av = _mm256_loadu_ps(a + r * a_rs + k);
      for (int c = 0; c < kCols; ++c) acc[r][c] = _mm256_fmadd_ps(av, bv[c], acc[r][c]);
    }
  }
  if (k < K) {
    const __m256i mask = lane_mask(K - k);
    __m256 bv[kCols];
    for (int c = 0; c < kCols; ++c) bv[c] = _mm256_maskload_ps(b + c * b_cs + k, mask);
    for (int r = 0; r < kRows; ++r) {
      const __m256 av = _mm256_maskload_ps(a + r * a_rs + k, mask);
      for (int c = 0; c < kCols; ++c) acc[r][c] = _mm256_fmadd_ps(av, bv[c], acc[r][c]);
    }
  }
  alignas(16) float sums[kRows * 4];
  for (int r = 0; r < kRows; ++r) {
    if constexpr (kCols == 4) {
      _mm_store_ps(sums + 4 * r, sum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
    } else {
      for (int c = 0; c < kCols; ++c) sums[4 * r + c] = sum1(acc[r][c]);
    }
  }
  store_block<kRows, kCols>(s, sums, row0, col0);
}

template <int kCols>
void column_block(const SmallMArgs& s, int64_t col0) {
  int64_t m0 = 0;
  for (; m0 + kRowBlock <= s.M; m0 += kRowBlock) dot_block<kRowBlock, kCols>(s, m0, col0);
  if (m0 < s.M) dot_block<1, kCols>(s, m0, col0);
  static_assert(kRowBlock == 2, "the row tail is one row");
}

}  // namespace

void small_m_colmajor_b_avx2(const SmallMArgs& s, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + kColBlock <= n_end; n += kColBlock) column_block<kColBlock>(s, n);
  for (; n < n_end; ++n) column_block<1>(s, n);
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
