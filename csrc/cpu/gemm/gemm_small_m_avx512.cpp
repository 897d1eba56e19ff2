// gemm_small_m_avx512.cpp — the AVX-512 kernel for GEMMs with at most 4 rows of C and a
// row-major B (GEMV-like; see Note [Small-M GEMM] in gemm_kernel_generic.cpp, whose
// generic kernel is the reference for this one). The column-major-B (Linear layout)
// kernel is in gemm_direct_linear_avx512.cpp.
//
// small_m_rowmajor_b_avx512: B[k, n] = B[k*b_rs + n]. For a block of up to 4096 columns
//   (a thread's whole share for N = 4096) the M accumulator rows live in a thread-local
//   buffer (16 KiB per row, L1/L2); k advances 4 rows of B at a time and each row piece
//   is long and contiguous, so B is read as one sequential stream when the block spans
//   all of N (shorter, page-sized pieces measured ~10% slower). Column tails use masked
//   loads. A may have any strides.
// It writes C through apply_epilogue_scalar, so any C strides work.
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsic headers (the
// "undefined vector" idiom, GCC bug 105593); it is a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
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

inline __mmask16 tail_mask(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff)
                     : static_cast<__mmask16>((1u << count) - 1u);
}

// acc[i*kColBlock + j] += sum_{t < kSteps} A[i, k+t] * B[k+t, n0+j] for j < nb.
template <int kSteps>
void accumulate_rows(const SmallMArgs& s, int64_t k, int64_t n0, int64_t nb, float* acc) {
  const float* brow[kSteps];
  for (int t = 0; t < kSteps; ++t) brow[t] = s.B + (k + t) * s.b_rs + n0;
  for (int64_t i = 0; i < s.M; ++i) {
    __m512 a[kSteps];
    for (int t = 0; t < kSteps; ++t) a[t] = _mm512_set1_ps(s.A[i * s.a_rs + (k + t) * s.a_cs]);
    float* out = acc + i * kColBlock;
    for (int64_t j = 0; j < nb; j += 16) {
      const __mmask16 mask = tail_mask(nb - j);
      __m512 sum = _mm512_load_ps(out + j);
      for (int t = 0; t < kSteps; ++t)
        sum = _mm512_fmadd_ps(a[t], _mm512_maskz_loadu_ps(mask, brow[t] + j), sum);
      _mm512_store_ps(out + j, sum);
    }
  }
}

}  // namespace

void small_m_rowmajor_b_avx512(const SmallMArgs& s, int64_t n_begin, int64_t n_end) {
  thread_local std::vector<float> acc_buffer;
  acc_buffer.resize(kSmallMMaxRows * kColBlock + 16);
  // 64-byte aligned view of the buffer.
  float* acc = acc_buffer.data() + ((64 - reinterpret_cast<uintptr_t>(acc_buffer.data()) % 64) % 64) / 4;
  for (int64_t n0 = n_begin; n0 < n_end; n0 += kColBlock) {
    const int64_t nb = std::min(kColBlock, n_end - n0);
    const int64_t nb_padded = (nb + 15) / 16 * 16;
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
