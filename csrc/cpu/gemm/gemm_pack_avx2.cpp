// gemm_pack_avx2.cpp — AVX2 transposing packers (Note [Transposing packs] in
// gemm_pack_avx512.cpp): 8 source rows x 8 k steps loaded as 8 ymm, transposed in
// registers (unpack 32/64-bit, then a 128-bit lane permute), each result one contiguous
// piece of a panel row. Same output as the reference templates in gemm_pack.h, zero
// padding included (loads past k and rows past the block are zero).
//   pack_b_panels_unit_rs_f32_avx2: fp32 B panels from B with unit row stride, nr % 8 == 0.
//   pack_a_block_unit_cs_f32_avx2:  fp32 A panels from row-major A, mr <= 8.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/gemm/gemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

inline void transpose8x8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  // r[4g + q], 128-bit lane L: rows 4g..4g+3 of column 4L + q.
  for (int q = 0; q < 4; ++q) {
    t[q] = _mm256_permute2f128_ps(r[q], r[q + 4], 0x20);
    t[q + 4] = _mm256_permute2f128_ps(r[q], r[q + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) r[i] = t[i];
}

inline __m256i lane_mask(int64_t count) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int c = static_cast<int>(std::clamp<int64_t>(count, 0, 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), lanes);
}

inline __m256 load_row(const float* row, int64_t k0, int64_t k) {
  const int64_t left = k - k0;
  if (left >= 8) return _mm256_loadu_ps(row + k0);
  if (left <= 0) return _mm256_setzero_ps();
  return _mm256_maskload_ps(row + k0, lane_mask(left));
}

// dst rows u in [0, k_pad) at dst + u*dst_rs, columns [0, store_cols): column c = source
// row c at k = u (zero for c >= rows or u >= k).
void transpose_rows_to_panel(const float* src, int64_t src_rs, int rows, int64_t k,
                             int64_t k_pad, float* dst, int64_t dst_rs, int store_cols) {
  const __m256i store_mask = lane_mask(store_cols);
  for (int64_t k0 = 0; k0 < k_pad; k0 += 8) {
    __m256 r[8];
    for (int c = 0; c < 8; ++c) r[c] = c < rows ? load_row(src + c * src_rs, k0, k) : _mm256_setzero_ps();
    transpose8x8(r);
    const int n_out = static_cast<int>(std::min<int64_t>(8, k_pad - k0));
    float* out = dst + k0 * dst_rs;
    if (store_cols == 8) {
      for (int t = 0; t < n_out; ++t) _mm256_storeu_ps(out + t * dst_rs, r[t]);
    } else if (store_cols == 6 && dst_rs == 6) {
      // Note [Overlapping panel stores]: the rows of a 6-wide panel are adjacent, so each
      // is stored as 8 floats whose last 2 the next row then overwrites (vmaskmovps
      // stores cost about a dozen cycles each on AMD Zen); only the panel's last row,
      // after which nothing of this panel follows, is stored as 4 + 2 floats.
      for (int t = 0; t < n_out; ++t) {
        if (k0 + t == k_pad - 1) {
          _mm_storeu_ps(out + t * 6, _mm256_castps256_ps128(r[t]));
          _mm_storel_pi(reinterpret_cast<__m64*>(out + t * 6 + 4), _mm256_extractf128_ps(r[t], 1));
        } else {
          _mm256_storeu_ps(out + t * 6, r[t]);
        }
      }
    } else {
      for (int t = 0; t < n_out; ++t) _mm256_maskstore_ps(out + t * dst_rs, store_mask, r[t]);
    }
  }
}

}  // namespace

void pack_b_panels_unit_rs_f32_avx2(const float* b, int64_t cs, int64_t k, int64_t n, int nr,
                                    int64_t k_pad, int64_t panel_begin, int64_t panel_end,
                                    float* dst) {
  for (int64_t q = panel_begin; q < panel_end; ++q) {
    const int64_t j0 = q * nr;
    const int64_t cols = std::min<int64_t>(nr, n - j0);
    float* panel = dst + q * nr * k_pad;
    for (int g = 0; g < nr; g += 8) {
      const int rows = static_cast<int>(std::clamp<int64_t>(cols - g, 0, 8));
      transpose_rows_to_panel(b + (j0 + g) * cs, cs, rows, k, k_pad, panel + g, nr, 8);
    }
  }
}

void pack_a_block_unit_cs_f32_avx2(const float* a, int64_t rs, int64_t m, int64_t k, int mr,
                                   int64_t k_pad, float* dst) {
  for (int64_t i0 = 0; i0 < m; i0 += mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, m - i0));
    transpose_rows_to_panel(a + i0 * rs, rs, rows, k, k_pad, dst + i0 * k_pad, mr, mr);
  }
}

// Row-major B (unit column stride): straight copies of nr floats per panel row with full
// or masked 8-lane loads and stores (Note [Interleaved B packing]).
void pack_b_panels_unit_cs_f32_avx2(const float* b, int64_t rs, int64_t k, int64_t n, int nr,
                                    int64_t k_pad, int64_t panel_begin, int64_t panel_end,
                                    float* dst) {
  const __m256i lane_index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t q = panel_begin; q < panel_end; ++q) {
    const int64_t j0 = q * nr;
    const int cols = static_cast<int>(std::min<int64_t>(nr, n - j0));
    float* panel = dst + q * nr * k_pad;
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* src = b + kk * rs + j0;
      float* out = panel + kk * nr;
      for (int j = 0; j < nr; j += 8) {
        if (cols - j >= 8) {  // plain loads where the mask would be full (see the A packer)
          _mm256_storeu_ps(out + j, _mm256_loadu_ps(src + j));
          continue;
        }
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - j), lane_index);
        _mm256_storeu_ps(out + j, _mm256_maskload_ps(src + j, mask));
      }
    }
    for (int64_t kk = k; kk < k_pad; ++kk) {
      for (int j = 0; j < nr; j += 8) _mm256_storeu_ps(panel + kk * nr + j, _mm256_setzero_ps());
    }
  }
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
