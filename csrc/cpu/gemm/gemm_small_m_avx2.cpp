// gemm_small_m_avx2.cpp — the AVX2 + FMA kernel for GEMMs with at most 4 rows of C and a
// row-major B (GEMV-like; see Note [Small-M GEMM] in gemm_kernel_generic.cpp, whose
// generic kernel is the reference for this one). The AVX-512 twin is
// gemm_small_m_avx512.cpp; the column-major-B (Linear layout) kernel is in
// gemm_direct_linear_avx2.cpp.
//
// small_m_rowmajor_b_avx2: B[k, n] = B[k*b_rs + n]. For a block of up to 4096 columns
//   the M accumulator rows live in a thread-local buffer (16 KiB per row, L1/L2); k
//   advances 4 rows of B at a time, so each pass over the accumulators reads four long
//   contiguous pieces of B (one sequential stream per row of B when the block spans all
//   of N) and B is read from memory exactly once. Column tails (nb % 8) use
//   vmaskmovps loads. A may have any strides. C is written through
//   apply_epilogue_scalar, so any C strides work.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/gemm/gemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int64_t kColBlock = 4096;

TileEpilogue full_tile_epilogue(const Epilogue& ep, int64_t col0) {
  TileEpilogue t{ep.alpha, ep.beta, nullptr, ep.bias_kind, ep.act};
  if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerColumn) t.bias = ep.bias + col0;
  if (ep.bias != nullptr && ep.bias_kind == BiasKind::PerRow) t.bias = ep.bias;
  return t;
}

// Lane mask selecting the first `count` (< 8) of 8 floats, for vmaskmovps.
inline __m256i tail_mask(int64_t count) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lanes);
}

// acc[i*kColBlock + j] += sum_{t < kSteps} A[i, k+t] * B[k+t, n0+j] for j < nb
// (acc is padded to a multiple of 8 columns, so the tail vector loads and stores whole).
template <int kSteps>
void accumulate_rows(const SmallMArgs& s, int64_t k, int64_t n0, int64_t nb, float* acc) {
  const float* brow[kSteps];
  for (int t = 0; t < kSteps; ++t) brow[t] = s.B + (k + t) * s.b_rs + n0;
  const int64_t full = nb / 8 * 8;
  const __m256i mask = tail_mask(nb - full);
  for (int64_t i = 0; i < s.M; ++i) {
    __m256 a[kSteps];
    for (int t = 0; t < kSteps; ++t) a[t] = _mm256_set1_ps(s.A[i * s.a_rs + (k + t) * s.a_cs]);
    float* out = acc + i * kColBlock;
    int64_t j = 0;
    for (; j + 16 <= full; j += 16) {  // two vectors per step: two independent FMA chains
      __m256 sum0 = _mm256_load_ps(out + j);
      __m256 sum1 = _mm256_load_ps(out + j + 8);
      for (int t = 0; t < kSteps; ++t) {
        sum0 = _mm256_fmadd_ps(a[t], _mm256_loadu_ps(brow[t] + j), sum0);
        sum1 = _mm256_fmadd_ps(a[t], _mm256_loadu_ps(brow[t] + j + 8), sum1);
      }
      _mm256_store_ps(out + j, sum0);
      _mm256_store_ps(out + j + 8, sum1);
    }
    for (; j < full; j += 8) {
      __m256 sum = _mm256_load_ps(out + j);
      for (int t = 0; t < kSteps; ++t) sum = _mm256_fmadd_ps(a[t], _mm256_loadu_ps(brow[t] + j), sum);
      _mm256_store_ps(out + j, sum);
    }
    if (full < nb) {
      __m256 sum = _mm256_load_ps(out + full);
      for (int t = 0; t < kSteps; ++t) sum = _mm256_fmadd_ps(a[t], _mm256_maskload_ps(brow[t] + full, mask), sum);
      _mm256_store_ps(out + full, sum);
    }
  }
}

}  // namespace

void small_m_rowmajor_b_avx2(const SmallMArgs& s, int64_t n_begin, int64_t n_end) {
  thread_local std::vector<float> acc_buffer;
  acc_buffer.resize(kSmallMMaxRows * kColBlock + 8);
  // 32-byte aligned view of the buffer.
  float* acc = acc_buffer.data() + ((32 - reinterpret_cast<uintptr_t>(acc_buffer.data()) % 32) % 32) / 4;
  for (int64_t n0 = n_begin; n0 < n_end; n0 += kColBlock) {
    const int64_t nb = std::min(kColBlock, n_end - n0);
    const int64_t nb_padded = (nb + 7) / 8 * 8;
    for (int64_t i = 0; i < s.M; ++i) std::fill(acc + i * kColBlock, acc + i * kColBlock + nb_padded, 0.0f);
    int64_t k = 0;
    for (; k + 4 <= s.K; k += 4) accumulate_rows<4>(s, k, n0, nb, acc);
    for (; k < s.K; ++k) accumulate_rows<1>(s, k, n0, nb, acc);
    apply_epilogue_scalar(acc, kColBlock, s.C + n0 * s.c_cs, s.c_rs, s.c_cs, s.M, nb,
                          full_tile_epilogue(s.ep, n0));
  }
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
