// conv_gemm_avx512.cpp — AVX-512 B-panel packer of the implicit-GEMM convolution
// (conv_gemm.h) for sw == 1: each 16-lane vector of a panel row is assembled from
// masked unaligned loads of input rows (segment table, conv_pack_impl.h), zero lanes
// for padding and positions past P. Writes exactly what conv_pack_b_generic writes.
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

void conv_pack_b_avx512(const ConvGeom& g, const float* x, int64_t p0, int64_t k0, int64_t k1, int nr, float* dst) {
  ConvPanelTable& t = tls_table;
  conv_panel_table(g, p0, nr, 16, t);
  const int64_t khw = g.kh * g.kw, plane = g.H * g.W, nv = t.nv;
  int64_t c = k0 / khw, r = k0 % khw;
  const float* xc = x + c * plane;
  for (int64_t k = k0; k < k1; ++k) {
    float* row = dst + (k - k0) * nr;
    const int32_t* cnt = t.count.data() + r * nv;
    const ConvPanelSeg* seg = t.seg.data() + r * nv * 16;
    for (int64_t v = 0; v < nv; ++v, seg += 16) {
      __m512 acc = _mm512_setzero_ps();
      for (int32_t e = 0; e < cnt[v]; ++e) {
        const __mmask16 m = static_cast<__mmask16>((0xffffu >> (16 - (seg[e].hi - seg[e].lo))) << seg[e].lo);
        // Lanes outside m are not read (masked loads do not fault), so the base may
        // point before the plane.
        acc = _mm512_mask_loadu_ps(acc, m, reinterpret_cast<const float*>(
                                               reinterpret_cast<intptr_t>(xc) + seg[e].off * 4));
      }
      _mm512_store_ps(row + v * 16, acc);
    }
    if (++r == khw) {
      r = 0;
      xc += plane;
    }
  }
}

}  // namespace nn::cpu
