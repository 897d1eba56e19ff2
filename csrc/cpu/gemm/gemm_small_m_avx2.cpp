// gemm_small_m_avx2.cpp — the AVX2 + FMA kernel for GEMMs with at most 4 rows of C and a
// row-major B (GEMV-like; see Note [Small-M GEMM] in gemm_kernel_generic.cpp, whose
// generic kernel is the reference for this one). The AVX-512 twin is
// gemm_small_m_avx512.cpp; the column-major-B (Linear layout) kernel is in
// gemm_direct_linear_avx2.cpp.
//
// small_m_rowmajor_b_avx2: B[k, n] = B[k*b_rs + n]; the column blocks, accumulator rows
//   and epilogue are gemm_small_m_impl.h's (B is read from memory exactly once), the
//   vector loop is here: two 8-lane vectors per step (two independent FMA chains), and
//   column tails (nb % 8) through vmaskmovps loads. A may have any strides.
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
#include "cpu/vec_avx2.h"

// acc[i*kColBlock + j] += sum_{t < kSteps} A[i, k+t] * B[k+t, n0+j] for j < nb
// (acc is padded to a multiple of 8 columns, so the tail vector loads and stores whole).
template <int kSteps>
struct AccumulateRows {
  static void run(const SmallMArgs& s, int64_t k, int64_t n0, int64_t nb, float* acc) {
    const float* brow[kSteps];
    for (int t = 0; t < kSteps; ++t) brow[t] = s.B + (k + t) * s.b_rs + n0;
    const int64_t full = nb / 8 * 8;
    const __m256i mask = lane_mask(nb - full);
    for (int64_t i = 0; i < s.M; ++i) {
      __m256 a[kSteps];
      for (int t = 0; t < kSteps; ++t) a[t] = _mm256_set1_ps(s.A[i * s.a_rs + (k + t) * s.a_cs]);
      float* out = acc + i * kColBlock;
      int64_t j = 0;
      for (; j + 16 <= full; j += 16) {
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
        for (int t = 0; t < kSteps; ++t)
          sum = _mm256_fmadd_ps(a[t], _mm256_maskload_ps(brow[t] + full, mask), sum);
        _mm256_store_ps(out + full, sum);
      }
    }
  }
};

}  // namespace

void small_m_rowmajor_b_avx2(const SmallMArgs& s, int64_t n_begin, int64_t n_end) {
  small_m_rowmajor_b_blocks<8, AccumulateRows>(s, n_begin, n_end);
}

}  // namespace detail
}  // namespace gemm
}  // namespace nn
