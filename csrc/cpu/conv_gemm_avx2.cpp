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
  const int64_t khw = g.kh * g.kw, plane = g.H * g.W, nv = t.nv, rstride = khw * nr;
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  // Taps outer, channels inner: the masks and offsets of one tap serve every channel.
  for (int64_t r = 0; r < khw; ++r) {
    int64_t c0, c1;
    conv_tap_channels(k0, k1, r, khw, c0, c1);
    if (c0 >= c1) continue;
    float* row0 = dst + (c0 * khw + r - k0) * nr;
    const float* x0 = x + c0 * plane;
    const int64_t nc = c1 - c0;
    const int32_t* cnt = t.count.data() + r * nv;
    for (int64_t v = 0; v < nv; ++v) {
      const ConvPanelSeg* seg = t.seg.data() + (r * nv + v) * 8;
      float* out = row0 + v * 8;
      for (int64_t c = 0; c < nc; ++c) {
        __m256 acc = _mm256_setzero_ps();
        for (int32_t e = 0; e < cnt[v]; ++e) {
          const __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(iota, _mm256_set1_epi32(seg[e].lo - 1)),
                                             _mm256_cmpgt_epi32(_mm256_set1_epi32(seg[e].hi), iota));
          // maskload reads only the lanes in m (no fault elsewhere); segments are disjoint.
          const float* in = reinterpret_cast<const float*>(reinterpret_cast<intptr_t>(x0) +
                                                           seg[e].off * static_cast<int64_t>(sizeof(float)));
          acc = _mm256_or_ps(acc, _mm256_maskload_ps(in + c * plane, m));
        }
        _mm256_storeu_ps(out + c * rstride, acc);
      }
    }
  }
}

}  // namespace nn::cpu
