// gemm_pack_avx512.cpp — AVX-512 transposing packers: the operand layouts whose packing
// is a transpose (Note [Transposing packs]). Each writes exactly what its reference
// template in gemm_pack.h writes (pack_b_panels / pack_a_block), padding included; the
// driver picks them per call (gemm_driver.cpp) and tests compare the two.
//
// Note [Transposing packs]: a packed panel is k-major (one row of the panel = one k step
// of NR columns of B, or of MR rows of A). When the source is stored the other way, with
// k contiguous — B = W^T of a Linear weight W (N, K) (b_rs = 1, b_cs = K), or a row-major
// A (a_cs = 1) — the reference writes one element per panel row per source element, a
// scattered store stream. Here 16 source rows x 16 k steps (32-bit units: one float, or
// one bf16 k pair) are loaded as 16 zmm, transposed in registers (unpack 32/64-bit, then
// two 128-bit lane shuffles), and each result vector is one whole, contiguous piece of a
// panel row. Loads past k, and rows/columns past the block, are masked to zero, which is
// also the panels' zero padding.
//   pack_b_panels_unit_rs_f32_avx512:  fp32 B panels, nr a multiple of 16.
//   pack_b_panels_unit_rs_bf16_avx512: bf16 pair-layout B panels (kGroup 2), nr % 16 == 0.
//   pack_a_block_unit_cs_f32_avx512:   fp32 A panels from row-major A, mr <= 16.
//   pack_a_block_unit_cs_bf16_avx512:  bf16 pair-layout A panels (kGroup 2), mr <= 16.
// And one straight copy: pack_b_panels_unit_cs_f32_avx512 (row-major B, nr % 16 == 0).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 intrinsic headers (bug 105593)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/gemm/gemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

// In-place transpose of a 16 x 16 block of 32-bit lanes: r[i] lane j -> r[j] lane i.
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // r[4g + q] now holds, in its 128-bit lane L, rows 4g..4g+3 of column 4L + q; what is
  // left is a 4 x 4 transpose of 128-bit lanes across r[q], r[4+q], r[8+q], r[12+q].
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
  }
}

inline __mmask16 mask16(int64_t count) {
  if (count >= 16) return static_cast<__mmask16>(0xffff);
  if (count <= 0) return 0;
  return static_cast<__mmask16>((1u << count) - 1u);
}

inline __mmask32 mask32(int64_t count) {
  if (count >= 32) return static_cast<__mmask32>(0xffffffffu);
  if (count <= 0) return 0;
  return static_cast<__mmask32>((1u << count) - 1u);
}

// The 16 source rows of one transpose: rows [0, rows) start at base + r*stride (in Src
// elements); unit u of row r is kUnit consecutive Src elements at unit*kUnit.
// load(r, u0, valid_elems) returns 16 units starting at u0, zero past valid_elems.
template <typename Src>
struct RowSource;

template <>
struct RowSource<float> {
  static __m512 load(const float* row, int64_t u0, int64_t elems) {
    const int64_t left = elems - u0;
    if (left >= 16) return _mm512_loadu_ps(row + u0);
    return _mm512_maskz_loadu_ps(mask16(left), row + u0);
  }
};

template <>
struct RowSource<uint16_t> {  // a unit is a pair of bf16 (k, k+1)
  static __m512 load(const uint16_t* row, int64_t u0, int64_t elems) {
    const int64_t left = elems - 2 * u0;
    if (left >= 32) return _mm512_castsi512_ps(_mm512_loadu_si512(row + 2 * u0));
    return _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(mask32(left), row + 2 * u0));
  }
};

// dst rows u in [0, units_pad), each row at dst + u*dst_rs, columns [0, 16) written for
// every row: column c = unit u of source row c (zero for c >= rows or past elems).
template <typename Src>
void transpose_rows_to_panel(const Src* src, int64_t src_rs, int rows, int64_t elems,
                             int64_t units_pad, float* dst, int64_t dst_rs, int store_cols) {
  const __mmask16 store_mask = mask16(store_cols);
  for (int64_t u0 = 0; u0 < units_pad; u0 += 16) {
    __m512 r[16];
    for (int c = 0; c < 16; ++c)
      r[c] = c < rows ? RowSource<Src>::load(src + c * src_rs, u0, elems) : _mm512_setzero_ps();
    transpose16x16(r);
    const int n_out = static_cast<int>(std::min<int64_t>(16, units_pad - u0));
    float* out = dst + u0 * dst_rs;
    if (store_cols == 16) {
      for (int t = 0; t < n_out; ++t) _mm512_storeu_ps(out + t * dst_rs, r[t]);
    } else {
      for (int t = 0; t < n_out; ++t) _mm512_mask_storeu_ps(out + t * dst_rs, store_mask, r[t]);
    }
  }
}

template <typename Src>
void pack_b_unit_rs(const Src* b, int64_t cs, int64_t k, int64_t n, int nr, int64_t units_pad,
                    int64_t panel_begin, int64_t panel_end, float* dst) {
  for (int64_t q = panel_begin; q < panel_end; ++q) {
    const int64_t j0 = q * nr;
    const int64_t cols = std::min<int64_t>(nr, n - j0);
    float* panel = dst + q * nr * units_pad;
    for (int g = 0; g < nr; g += 16) {
      const int rows = static_cast<int>(std::clamp<int64_t>(cols - g, 0, 16));
      transpose_rows_to_panel<Src>(b + (j0 + g) * cs, cs, rows, k, units_pad, panel + g, nr, 16);
    }
  }
}

}  // namespace

void pack_b_panels_unit_rs_f32_avx512(const float* b, int64_t cs, int64_t k, int64_t n, int nr,
                                      int64_t k_pad, int64_t panel_begin, int64_t panel_end,
                                      float* dst) {
  pack_b_unit_rs<float>(b, cs, k, n, nr, k_pad, panel_begin, panel_end, dst);
}

void pack_b_panels_unit_rs_bf16_avx512(const uint16_t* b, int64_t cs, int64_t k, int64_t n,
                                       int nr, int64_t k_pad, int64_t panel_begin,
                                       int64_t panel_end, uint16_t* dst) {
  // Panel q of the pair layout as 32-bit units: unit (p, j) at p*nr + j (k_pad is even).
  pack_b_unit_rs<uint16_t>(b, cs, k, n, nr, k_pad / 2, panel_begin, panel_end,
                           reinterpret_cast<float*>(dst));
}

void pack_a_block_unit_cs_f32_avx512(const float* a, int64_t rs, int64_t m, int64_t k, int mr,
                                     int64_t k_pad, float* dst) {
  for (int64_t i0 = 0; i0 < m; i0 += mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, m - i0));
    transpose_rows_to_panel<float>(a + i0 * rs, rs, rows, k, k_pad, dst + i0 * k_pad, mr, mr);
  }
}

void pack_a_block_unit_cs_bf16_avx512(const uint16_t* a, int64_t rs, int64_t m, int64_t k, int mr,
                                      int64_t k_pad, uint16_t* dst) {
  // Panel p of the pair layout as 32-bit units: unit (pair u, row i) at u*mr + i.
  float* out = reinterpret_cast<float*>(dst);
  for (int64_t i0 = 0; i0 < m; i0 += mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, m - i0));
    transpose_rows_to_panel<uint16_t>(a + i0 * rs, rs, rows, k, k_pad / 2, out + i0 * k_pad / 2, mr, mr);
  }
}

// Row-major B (unit column stride): each panel row is a straight copy of nr source
// floats, done with full or masked 16-lane loads and stores (the template's scalar loop
// was the largest cost of small-M products, Note [Interleaved B packing]).
void pack_b_panels_unit_cs_f32_avx512(const float* b, int64_t rs, int64_t k, int64_t n, int nr,
                                      int64_t k_pad, int64_t panel_begin, int64_t panel_end,
                                      float* dst) {
  for (int64_t q = panel_begin; q < panel_end; ++q) {
    const int64_t j0 = q * nr;
    const int cols = static_cast<int>(std::min<int64_t>(nr, n - j0));
    float* panel = dst + q * nr * k_pad;
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* src = b + kk * rs + j0;
      float* out = panel + kk * nr;
      for (int j = 0; j < nr; j += 16) {
        const int lanes = std::max(0, std::min(16, cols - j));
        const __mmask16 mask = static_cast<__mmask16>(lanes >= 16 ? 0xffff : (1u << lanes) - 1u);
        _mm512_storeu_ps(out + j, _mm512_maskz_loadu_ps(mask, src + j));
      }
    }
    for (int64_t kk = k; kk < k_pad; ++kk) {
      for (int j = 0; j < nr; j += 16) _mm512_storeu_ps(panel + kk * nr + j, _mm512_setzero_ps());
    }
  }
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
