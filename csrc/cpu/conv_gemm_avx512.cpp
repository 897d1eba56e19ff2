// conv_gemm_avx512.cpp — AVX-512 B-panel packer of the implicit-GEMM convolution
// (conv_gemm.h): each 16-lane vector of a panel row is assembled from masked unaligned
// loads of input rows (sw == 1) or masked gathers (sw > 1) (segment table,
// conv_pack_impl.h), zero lanes for padding and positions past P. Writes exactly what
// conv_pack_b_generic writes.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/conv_gemm.h"

namespace nn::cpu {
namespace {
#include "cpu/conv_pack_impl.h"
thread_local ConvPanelTable tls_table;
inline __mmask16 seg_mask(const ConvPanelSeg& s) {
  return static_cast<__mmask16>((0xffffu >> (16 - (s.hi - s.lo))) << s.lo);
}
// x + off without forming an out-of-range pointer in C++ terms: lanes outside the mask
// are not read (masked loads do not fault), so the base may point before the plane.
inline const float* shifted(const float* x, int64_t off) {
  return reinterpret_cast<const float*>(reinterpret_cast<intptr_t>(x) + off * static_cast<int64_t>(sizeof(float)));
}
}  // namespace

void conv_pack_b_avx512(const ConvGeom& g, const float* x, int64_t p0, int64_t k0, int64_t k1, int nr, float* dst) {
  ConvPanelTable& t = tls_table;
  conv_panel_table(g, p0, nr, 16, t);
  const int64_t khw = g.kh * g.kw, plane = g.H * g.W, nv = t.nv, rstride = khw * nr;
  if (g.sw != 1) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(static_cast<int32_t>(g.sw)));
    for (int64_t r = 0; r < khw; ++r) {
      int64_t c0, c1;
      conv_tap_channels(k0, k1, r, khw, c0, c1);
      const int32_t* cnt = t.count.data() + r * nv;
      for (int64_t c = c0; c < c1; ++c) {
        float* row = dst + (c * khw + r - k0) * nr;
        const float* xc = x + c * plane;
        for (int64_t v = 0; v < nv; ++v) {
          const ConvPanelSeg* seg = t.seg.data() + (r * nv + v) * 16;
          __m512 acc = _mm512_setzero_ps();
          for (int32_t e = 0; e < cnt[v]; ++e)
            acc = _mm512_mask_i32gather_ps(acc, seg_mask(seg[e]), idx, shifted(xc, seg[e].off), 4);
          _mm512_store_ps(row + v * 16, acc);
        }
      }
    }
    return;
  }
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
      const ConvPanelSeg* seg = t.seg.data() + (r * nv + v) * 16;
      float* out = row0 + v * 16;
      if (cnt[v] == 0) {
        for (int64_t c = 0; c < nc; ++c) _mm512_store_ps(out + c * rstride, _mm512_setzero_ps());
      } else if (cnt[v] == 1) {
        const __mmask16 m = seg_mask(seg[0]);
        const float* in = shifted(x0, seg[0].off);
        for (int64_t c = 0; c < nc; ++c) _mm512_store_ps(out + c * rstride, _mm512_maskz_loadu_ps(m, in + c * plane));
      } else if (cnt[v] == 2) {  // e.g. two output rows of 8 in one vector
        const __mmask16 m0 = seg_mask(seg[0]), m1 = seg_mask(seg[1]);
        const float* in0 = shifted(x0, seg[0].off);
        const float* in1 = shifted(x0, seg[1].off);
        for (int64_t c = 0; c < nc; ++c)
          _mm512_store_ps(out + c * rstride,
                          _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(m0, in0 + c * plane), m1, in1 + c * plane));
      } else {
        for (int64_t c = 0; c < nc; ++c) {
          __m512 acc = _mm512_setzero_ps();
          for (int32_t e = 0; e < cnt[v]; ++e)
            acc = _mm512_mask_loadu_ps(acc, seg_mask(seg[e]), shifted(x0, seg[e].off) + c * plane);
          _mm512_store_ps(out + c * rstride, acc);
        }
      }
    }
  }
}

}  // namespace nn::cpu
