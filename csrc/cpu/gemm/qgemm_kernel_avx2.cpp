// qgemm_kernel_avx2.cpp — the AVX2 int8 microkernel qgemm_avx2_6x8 (for chips without
// AVX-512 VNNI).
//
// Note [AVX2 int8 saturation]: the classic AVX2 sequence vpmaddubsw (u8 x s8 -> s16,
// adding adjacent pairs with SATURATION) + vpmaddwd(ones) is not exact: a pair
// 255*127 + 255*127 = 64770 does not fit in int16. Libraries avoid it by restricting
// activations to 7 bits ("reduce_range"), which costs a bit of accuracy and makes the
// result depend on the ISA. We keep full 8-bit activations and bit-exact results by
// widening instead: A is packed as int16 (zero-extended u8), B's int8 bytes are
// sign-extended to int16 (vpmovsxbw) once per k group and reused for all 6 rows, and
// vpmaddwd (s16 x s16, adjacent pairs added into int32) cannot overflow:
// |a0*b0 + a1*b1| <= 2*255*128 = 65280. Same instruction count per multiply-add as
// vpmaddubsw + vpmaddwd, without the saturation.
//
// Microkernel contract (Note [QGEMM packed layouts] in qgemm_internal.h):
//   register tile: 6 rows x 8 columns per pass, 12 ymm accumulators; each holds 4
//     columns x 2 partial sums (k pairs {0,1} and {2,3} of each group); the 32 columns
//     of a panel are 4 passes (the A panel stays in L1). Partial sums are combined with
//     vphaddd at the end.
//   a_panel: s16 format, a[g*6*4 + i*4 + t] = A[i, 4g+t] as int16, zero padded.
//   b_panel: b[g*128 + j*4 + t] = B[4g+t, j].
//   output: rows [0, m) x 32 columns of int32 sums to acc (row stride 32).
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm/qgemm_internal.h"

namespace nn {
namespace gemm {
namespace detail {
namespace {

constexpr int kMr = 6;

template <int kRows>
void qgemm_avx2_6x8_rows(int64_t kg, const int16_t* a_panel, const int8_t* b_panel, int32_t* acc) {
  for (int quarter = 0; quarter < 4; ++quarter) {
    __m256i s0[kRows], s1[kRows];  // columns 0-3 and 4-7 of this quarter, 2 partials each
    for (int i = 0; i < kRows; ++i) {
      s0[i] = _mm256_setzero_si256();
      s1[i] = _mm256_setzero_si256();
    }
    const int16_t* a = a_panel;
    const int8_t* b = b_panel + quarter * 32;
    for (int64_t g = 0; g < kg; ++g) {
      const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
      const __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16)));
#pragma GCC unroll 6
      for (int i = 0; i < kRows; ++i) {
        int64_t four;
        std::memcpy(&four, a + i * 4, sizeof(four));
        const __m256i ai = _mm256_set1_epi64x(four);
        s0[i] = _mm256_add_epi32(s0[i], _mm256_madd_epi16(ai, b0));
        s1[i] = _mm256_add_epi32(s1[i], _mm256_madd_epi16(ai, b1));
      }
      a += kMr * 4;
      b += 128;
    }
    for (int i = 0; i < kRows; ++i) {
      // hadd -> columns (0,1,4,5 | 2,3,6,7); the permute restores 0..7.
      const __m256i h = _mm256_hadd_epi32(s0[i], s1[i]);
      const __m256i cols = _mm256_permute4x64_epi64(h, 0xd8);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i * 32 + quarter * 8), cols);
    }
  }
}

using RowsKernel = void (*)(int64_t, const int16_t*, const int8_t*, int32_t*);
constexpr RowsKernel kRowsKernels[kMr] = {&qgemm_avx2_6x8_rows<1>, &qgemm_avx2_6x8_rows<2>,
                                          &qgemm_avx2_6x8_rows<3>, &qgemm_avx2_6x8_rows<4>,
                                          &qgemm_avx2_6x8_rows<5>, &qgemm_avx2_6x8_rows<6>};

void qgemm_avx2_6x8(int64_t kg, const void* a_panel, const int8_t* b_panel, int32_t* acc, int m) {
  kRowsKernels[m - 1](kg, static_cast<const int16_t*>(a_panel), b_panel, acc);
}

}  // namespace

const QgemmKernelInfo& qgemm_kernel_avx2() {
  static const QgemmKernelInfo info{"qgemm_avx2_6x8", kMr, QPackA::S16, qgemm_avx2_6x8};
  return info;
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
