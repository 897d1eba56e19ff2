// gemm_small_m_avx512.cpp — the AVX-512 kernel for GEMMs with at most 4 rows of C and a
// row-major B (GEMV-like; see Note [Small-M GEMM] in gemm_kernel_generic.cpp, whose
// generic kernel is the reference for this one). The column-major-B (Linear layout)
// kernel is in gemm_direct_linear_avx512.cpp.
//
// small_m_rowmajor_b_avx512: B[k, n] = B[k*b_rs + n]; the column blocks, accumulator
//   rows and epilogue are gemm_small_m_impl.h's, the vector loop is here. Column tails
//   use masked loads. A may have any strides.
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

#include "cpu/gemm/gemm_small_m_impl.h"

inline __mmask16 tail_mask(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff)
                     : static_cast<__mmask16>((1u << count) - 1u);
}

// acc[i*kColBlock + j] += sum_{t < kSteps} A[i, k+t] * B[k+t, n0+j] for j < nb.
template <int kSteps>
struct AccumulateRows {
  static void run(const SmallMArgs& s, int64_t k, int64_t n0, int64_t nb, float* acc) {
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
};

}  // namespace

void small_m_rowmajor_b_avx512(const SmallMArgs& s, int64_t n_begin, int64_t n_end) {
  small_m_rowmajor_b_blocks<16, AccumulateRows>(s, n_begin, n_end);
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
