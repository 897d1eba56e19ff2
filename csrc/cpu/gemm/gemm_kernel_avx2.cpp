// gemm_kernel_avx2.cpp — the AVX2/FMA fp32 GEMM microkernel sgemm_avx2_6x16.
//
// Microkernel contract (see Note [GEMM packed layouts] in gemm_internal.h):
//   register tile: MR x NR = 6 x 16, held in 12 ymm accumulators (2 per row); per k
//     step it loads two B vectors and broadcasts 6 A values (12 FMAs).
//   a_panel: kc x 6 floats, k-major (a[k*6 + i] = A[i, k]), zero padded rows.
//   b_panel: kc x 16 floats, k-major (b[k*16 + j] = B[k, j]), 32-byte aligned, zero
//     padded columns.
//   C: m x n tile (1 <= m <= 6, 1 <= n <= 16), row stride c_rs, unit column stride.
//   epilogue: c = act(alpha*acc + beta*c + bias) in that order; beta == 0 never reads
//     C; Gelu is applied to the stored tile by apply_gelu_tile.
//   edges: m < 6 is a separate instantiation with m rows of accumulators; n < 16 uses
//     maskload/maskstore, so nothing outside the m x n tile is touched.
#include <immintrin.h>

#include "cpu/gemm/gemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

inline __m256i lane_mask8(int count) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lanes);
}

template <int kRows>
void sgemm_avx2_6x16_rows(int64_t kc, const float* a, const float* b, float* c, int64_t c_rs,
                          int n, const TileEpilogue& ep) {
  __m256 acc_lo[kRows];
  __m256 acc_hi[kRows];
#pragma GCC unroll 6
  for (int i = 0; i < kRows; ++i) {
    acc_lo[i] = _mm256_setzero_ps();
    acc_hi[i] = _mm256_setzero_ps();
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b_lo = _mm256_load_ps(b);
    const __m256 b_hi = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < kRows; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc_lo[i] = _mm256_fmadd_ps(ai, b_lo, acc_lo[i]);
      acc_hi[i] = _mm256_fmadd_ps(ai, b_hi, acc_hi[i]);
    }
    a += kMr;
    b += kNr;
  }

  const __m256i mask_lo = lane_mask8(n);
  const __m256i mask_hi = lane_mask8(n - 8);
  const __m256 alpha = _mm256_set1_ps(ep.alpha);
  const __m256 beta = _mm256_set1_ps(ep.beta);
  const bool use_beta = ep.beta != 0.0f;
  const bool col_bias = ep.bias != nullptr && ep.bias_kind == BiasKind::PerColumn;
  const bool row_bias = ep.bias != nullptr && ep.bias_kind == BiasKind::PerRow;
  const bool relu = ep.act == Activation::Relu;
  __m256 bias_lo = _mm256_setzero_ps();
  __m256 bias_hi = _mm256_setzero_ps();
  if (col_bias) {
    bias_lo = _mm256_maskload_ps(ep.bias, mask_lo);
    bias_hi = _mm256_maskload_ps(ep.bias + 8, mask_hi);
  }
#pragma GCC unroll 6
  for (int i = 0; i < kRows; ++i) {
    float* crow = c + i * c_rs;
    __m256 lo = _mm256_mul_ps(acc_lo[i], alpha);
    __m256 hi = _mm256_mul_ps(acc_hi[i], alpha);
    if (use_beta) {
      lo = _mm256_fmadd_ps(beta, _mm256_maskload_ps(crow, mask_lo), lo);
      hi = _mm256_fmadd_ps(beta, _mm256_maskload_ps(crow + 8, mask_hi), hi);
    }
    if (col_bias) {
      lo = _mm256_add_ps(lo, bias_lo);
      hi = _mm256_add_ps(hi, bias_hi);
    } else if (row_bias) {
      const __m256 rb = _mm256_set1_ps(ep.bias[i]);
      lo = _mm256_add_ps(lo, rb);
      hi = _mm256_add_ps(hi, rb);
    }
    if (relu) {
      lo = _mm256_max_ps(_mm256_setzero_ps(), lo);
      hi = _mm256_max_ps(_mm256_setzero_ps(), hi);
    }
    _mm256_maskstore_ps(crow, mask_lo, lo);
    _mm256_maskstore_ps(crow + 8, mask_hi, hi);
  }
  if (ep.act == Activation::Gelu) apply_gelu_tile(c, c_rs, kRows, n);
}

using RowsKernel = void (*)(int64_t, const float*, const float*, float*, int64_t, int,
                            const TileEpilogue&);
constexpr RowsKernel kRowsKernels[kMr] = {
    &sgemm_avx2_6x16_rows<1>, &sgemm_avx2_6x16_rows<2>, &sgemm_avx2_6x16_rows<3>,
    &sgemm_avx2_6x16_rows<4>, &sgemm_avx2_6x16_rows<5>, &sgemm_avx2_6x16_rows<6>};

void sgemm_avx2_6x16(int64_t kc, const float* a_panel, const float* b_panel, float* c,
                     int64_t c_rs, int m, int n, const TileEpilogue& ep) {
  kRowsKernels[m - 1](kc, a_panel, b_panel, c, c_rs, n, ep);
}

}  // namespace

// Blocking: kc = 256 keeps the 16 KiB B micro-panel in L1 beside the 6 KiB A panel;
// mc = 144 (24 panels) gives a 144 KiB A block for L2; nc = 4096 as for AVX-512.
const SgemmKernelInfo& sgemm_kernel_avx2() {
  static const SgemmKernelInfo info{"sgemm_avx2_6x16", kMr, kNr,
                                    /*mc=*/144, /*kc=*/256, /*nc=*/4096, sgemm_avx2_6x16};
  return info;
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
