// gemm_bf16_avx512bf16.cpp — the AVX512-BF16 GEMM microkernel bf16gemm_avx512bf16_14x32
// (bf16 inputs, fp32 accumulation with vdpbf16ps, fp32 C).
//
// Microkernel contract (see Note [GEMM packed layouts] in gemm_internal.h):
//   register tile: MR x NR = 14 x 32 fp32 accumulators in 28 zmm (2 per row). One
//     _mm512_dpbf16_ps adds a[i,2p]*b[2p,j] + a[i,2p+1]*b[2p+1,j] into 16 lanes, so
//     each step consumes a PAIR of k: two B vector loads, 14 pair broadcasts.
//   a_panel: kc/2 pairs x 14 rows, a[(p*14 + i)*2 + t] = A[i, 2p+t] (bf16 bits).
//   b_panel: kc/2 pairs x 32 cols, b[(p*32 + j)*2 + t] = B[2p+t, j], 64-byte aligned.
//   kc is even; the driver zero-pads an odd depth (zeros add nothing).
//   C: m x n tile (1 <= m <= 14, 1 <= n <= 32), row stride c_rs, unit column stride.
//   epilogue: store_tile_avx512 (alpha, beta, bias, activation in that order); beta == 0
//     never reads C.
//   edges: m < 14 is its own instantiation; n < 32 uses masked C loads/stores.
// Where AVX512-BF16 is missing the driver converts bf16 to fp32 while packing and runs
// the fp32 microkernel instead (the "converted fallback").
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsic headers (the
// "undefined vector" idiom, GCC bug 105593); it is a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm/gemm_avx512_epilogue.h"
#include "cpu/gemm/gemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int kMr = 14;
constexpr int kNr = 32;

inline __m512i broadcast_pair(const uint16_t* pair) {
  int32_t bits;
  std::memcpy(&bits, pair, sizeof bits);
  return _mm512_set1_epi32(bits);
}

template <int kRows>
void bf16gemm_avx512bf16_14x32_rows(int64_t kc, const uint16_t* a, const uint16_t* b,
                                    float* c, int64_t c_rs, int n, const TileEpilogue& ep) {
  __m512 acc_lo[kRows];
  __m512 acc_hi[kRows];
#pragma GCC unroll 14
  for (int i = 0; i < kRows; ++i) {
    acc_lo[i] = _mm512_setzero_ps();
    acc_hi[i] = _mm512_setzero_ps();
  }
  const int64_t pairs = kc / 2;
#pragma GCC unroll 2
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh b_lo = (__m512bh)_mm512_load_si512(b);
    const __m512bh b_hi = (__m512bh)_mm512_load_si512(b + 32);
#pragma GCC unroll 14
    for (int i = 0; i < kRows; ++i) {
      const __m512bh ai = (__m512bh)broadcast_pair(a + 2 * i);
      acc_lo[i] = _mm512_dpbf16_ps(acc_lo[i], ai, b_lo);
      acc_hi[i] = _mm512_dpbf16_ps(acc_hi[i], ai, b_hi);
    }
    a += 2 * kMr;
    b += 2 * kNr;
  }
  store_tile_avx512<kRows>(acc_lo, acc_hi, c, c_rs, n, ep);
}

using RowsKernel = void (*)(int64_t, const uint16_t*, const uint16_t*, float*, int64_t, int,
                            const TileEpilogue&);
constexpr RowsKernel kRowsKernels[kMr] = {
    &bf16gemm_avx512bf16_14x32_rows<1>,  &bf16gemm_avx512bf16_14x32_rows<2>,
    &bf16gemm_avx512bf16_14x32_rows<3>,  &bf16gemm_avx512bf16_14x32_rows<4>,
    &bf16gemm_avx512bf16_14x32_rows<5>,  &bf16gemm_avx512bf16_14x32_rows<6>,
    &bf16gemm_avx512bf16_14x32_rows<7>,  &bf16gemm_avx512bf16_14x32_rows<8>,
    &bf16gemm_avx512bf16_14x32_rows<9>,  &bf16gemm_avx512bf16_14x32_rows<10>,
    &bf16gemm_avx512bf16_14x32_rows<11>, &bf16gemm_avx512bf16_14x32_rows<12>,
    &bf16gemm_avx512bf16_14x32_rows<13>, &bf16gemm_avx512bf16_14x32_rows<14>};

void bf16gemm_avx512bf16_14x32(int64_t kc, const uint16_t* a_panel, const uint16_t* b_panel,
                               float* c, int64_t c_rs, int m, int n, const TileEpilogue& ep) {
  kRowsKernels[m - 1](kc, a_panel, b_panel, c, c_rs, n, ep);
}

}  // namespace

// Blocking: a bf16 element is half a float, so kc = 512 gives the same 32 KiB B
// micro-panel in L1 as the fp32 kernel's kc = 256; mc = 336 -> 336 KiB A block in L2.
const Bf16KernelInfo& bf16_kernel_avx512bf16() {
  static const Bf16KernelInfo info{"bf16gemm_avx512bf16_14x32", kMr, kNr,
                                   /*mc=*/336, /*kc=*/512, /*nc=*/4096,
                                   bf16gemm_avx512bf16_14x32};
  return info;
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
