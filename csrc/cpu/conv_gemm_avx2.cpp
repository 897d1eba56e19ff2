// conv_gemm_avx2.cpp — AVX2 B-panel packer of the implicit-GEMM convolution
// (conv_gemm.h) for sw == 1: each 8-lane vector of a panel row is assembled from masked
// loads of input rows (segment table, conv_pack_impl.h), zero lanes for padding and
// positions past P. Writes exactly what conv_pack_b_generic writes.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/conv_gemm.h"

namespace nn::cpu {
namespace {
#include "cpu/conv_pack_impl.h"
thread_local ConvPanelTable tls_table;
}  // namespace

void conv_pack_b_avx2(const ConvGeom& g, const float* x, int64_t p0, int64_t k0, int64_t k1, int nr, float* dst) {
  ConvPanelTable& t = tls_table;
  conv_panel_table(g, p0, nr, 8, t);
  const int64_t khw = g.kh * g.kw, plane = g.H * g.W, nv = t.nv;
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  int64_t c = k0 / khw, r = k0 % khw;
  const float* xc = x + c * plane;
  for (int64_t k = k0; k < k1; ++k) {
    float* row = dst + (k - k0) * nr;
    const int32_t* cnt = t.count.data() + r * nv;
    const ConvPanelSeg* seg = t.seg.data() + r * nv * 8;
    for (int64_t v = 0; v < nv; ++v, seg += 8) {
      __m256 acc = _mm256_setzero_ps();
      for (int32_t e = 0; e < cnt[v]; ++e) {
        const __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(iota, _mm256_set1_epi32(seg[e].lo - 1)),
                                           _mm256_cmpgt_epi32(_mm256_set1_epi32(seg[e].hi), iota));
        // maskload reads only the lanes in m (no fault elsewhere); segments are disjoint.
        const __m256 part = _mm256_maskload_ps(
            reinterpret_cast<const float*>(reinterpret_cast<intptr_t>(xc) + seg[e].off * 4), m);
        acc = _mm256_or_ps(acc, part);
      }
      _mm256_storeu_ps(row + v * 8, acc);
    }
    if (++r == khw) {
      r = 0;
      xc += plane;
    }
  }
}

}  // namespace nn::cpu
