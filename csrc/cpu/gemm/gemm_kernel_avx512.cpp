// gemm_kernel_avx512.cpp — the AVX-512 fp32 GEMM microkernel sgemm_avx512_14x32.
//
// Microkernel contract (see Note [GEMM packed layouts] in gemm_internal.h):
//   register tile: MR x NR = 14 x 32, held in 28 zmm accumulators (2 per row); per k
//     step it loads two B vectors and broadcasts 14 A values (28 FMAs, 16 loads).
//   a_panel: kc x 14 floats, k-major (a[k*14 + i] = A[i, k]), zero padded rows.
//   b_panel: kc x 32 floats, k-major (b[k*32 + j] = B[k, j]), 64-byte aligned, zero
//     padded columns.
//   C: m x n tile (1 <= m <= 14, 1 <= n <= 32), row stride c_rs, unit column stride.
//   epilogue: c = act(alpha*acc + beta*c + bias) in that order; beta == 0 never reads
//     C; Gelu is applied to the stored tile by apply_gelu_tile.
//   prefetch: the first and last line of each C row are prefetched before the k loop
//     (Note [Prefetch C]); the bytes in between belong to the same 128-byte row. When
//     ep.next_b is set (Note [Interleaved B packing]), each k step also prefetches the
//     first 128 bytes of one row of the next B micro-panel into L2.
//   edges: m < 14 is a separate instantiation that keeps only m rows of accumulators;
//     n < 32 uses masked loads/stores of C (and of a per-column bias), so nothing
//     outside the m x n tile is read or written.
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsic headers (the
// "undefined vector" idiom, GCC bug 105593); it is a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "cpu/gemm/gemm_avx512_epilogue.h"
#include "cpu/gemm/gemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int kMr = 14;
constexpr int kNr = 32;

template <int kRows, bool kPrefetchNextB>
void sgemm_avx512_14x32_rows(int64_t kc, const float* a, const float* b, float* c,
                             int64_t c_rs, int n, const TileEpilogue& ep) {
  const char* next_b = ep.next_b;
  const int64_t next_b_steps = kPrefetchNextB ? std::min(kc, ep.next_b_rows) : 0;
  __m512 acc_lo[kRows];
  __m512 acc_hi[kRows];
#pragma GCC unroll 14
  for (int i = 0; i < kRows; ++i) {
    // Note [Prefetch C]: C is usually far from L1/L2 (one k block ago); start fetching
    // the tile's lines now so the epilogue does not wait on them after the k loop.
    _mm_prefetch(reinterpret_cast<const char*>(c + i * c_rs), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * c_rs + n - 1), _MM_HINT_T0);
    acc_lo[i] = _mm512_setzero_ps();
    acc_hi[i] = _mm512_setzero_ps();
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    if (kPrefetchNextB && k < next_b_steps) {
      _mm_prefetch(next_b, _MM_HINT_T1);
      _mm_prefetch(next_b + 64, _MM_HINT_T1);
      next_b += ep.next_b_rs;
    }
    const __m512 b_lo = _mm512_load_ps(b);
    const __m512 b_hi = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < kRows; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc_lo[i] = _mm512_fmadd_ps(ai, b_lo, acc_lo[i]);
      acc_hi[i] = _mm512_fmadd_ps(ai, b_hi, acc_hi[i]);
    }
    a += kMr;
    b += kNr;
  }

  store_tile_avx512<kRows>(acc_lo, acc_hi, c, c_rs, n, ep);
}

using RowsKernel = void (*)(int64_t, const float*, const float*, float*, int64_t, int,
                            const TileEpilogue&);

// One instantiation per row count 1..14, without and with the next-panel prefetch.
template <bool kPrefetchNextB, size_t... kRowIndex>
constexpr std::array<RowsKernel, kMr> rows_kernels(std::index_sequence<kRowIndex...>) {
  return {&sgemm_avx512_14x32_rows<static_cast<int>(kRowIndex) + 1, kPrefetchNextB>...};
}
constexpr auto kRowsKernels = rows_kernels<false>(std::make_index_sequence<kMr>{});
constexpr auto kRowsKernelsPrefetch = rows_kernels<true>(std::make_index_sequence<kMr>{});

void sgemm_avx512_14x32(int64_t kc, const float* a_panel, const float* b_panel, float* c,
                        int64_t c_rs, int m, int n, const TileEpilogue& ep) {
  if (ep.next_b != nullptr) {
    kRowsKernelsPrefetch[m - 1](kc, a_panel, b_panel, c, c_rs, n, ep);
  } else {
    kRowsKernels[m - 1](kc, a_panel, b_panel, c, c_rs, n, ep);
  }
}

}  // namespace

// Blocking (measured on Sapphire Rapids, L1d 48 KiB, L2 2 MiB): kc = 512 makes the B
// micro-panel 64 KiB, which lives in L2 and streams well, and halves the passes over C
// compared with kc = 256 (which measured ~10% slower at 2048^3); the driver splits K
// into equal blocks of at most kc. mc = 336 (24 panels of 14) makes the packed A block
// 672 KiB, a third of L2; nc = 4096 bounds the packed B block at 8 MiB (L3).
const SgemmKernelInfo& sgemm_kernel_avx512() {
  static const SgemmKernelInfo info{"sgemm_avx512_14x32", kMr, kNr,
                                    /*mc=*/336, /*kc=*/512, /*nc=*/4096, sgemm_avx512_14x32};
  return info;
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
