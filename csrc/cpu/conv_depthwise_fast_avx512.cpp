// conv_depthwise_fast_avx512.cpp — AVX-512 depthwise (C/groups == 1) kernels for
// sw == 1 (any kernel, sh, padding, dilation), float32: register accumulators over
// 16 output columns, masked loads for the padding columns (no padded copy of the
// plane) and rows outside the image skipped. Chosen at run time by conv_kernels.cpp;
// conv_depthwise_impl.h holds the plain loops they are tested against (same results
// up to rounding; tests/test_conv.py).
//
// Layout as in conv_kernels.h. Items: forward (n, co) planes; weight gradient output
// channels co (sum over n, oh, ow in that order per lane, then over the 16 lanes), so
// it does not depend on how the channels are split across threads; kernels of more
// than 25 taps use the plain loops. The input gradient (stride 1, multiplier 1) is this
// forward kernel on gy with the flipped taps (conv_kernels.cpp).
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsic headers (bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/conv_kernels.h"

namespace nn::cpu {
namespace {

// Lane masks of output chunk ch (columns [16*ch, 16*ch + 16)) at tap column jj: lanes
// whose output column is < OW and whose input column lies in [0, W).
std::vector<__mmask16> column_masks(const ConvGeom& g, int64_t chunks) {
  std::vector<__mmask16> m(static_cast<size_t>(g.kw * chunks));
  for (int64_t jj = 0; jj < g.kw; ++jj)
    for (int64_t ch = 0; ch < chunks; ++ch) {
      unsigned bits = 0;
      for (int l = 0; l < 16; ++l) {
        const int64_t ow = ch * 16 + l, iw = ow - g.pw + jj * g.dw;
        if (ow < g.OW && iw >= 0 && iw < g.W) bits |= 1u << l;
      }
      m[static_cast<size_t>(jj * chunks + ch)] = static_cast<__mmask16>(bits);
    }
  return m;
}

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u); }

// x + off without forming an out-of-range pointer in C++ terms; masked-off lanes are not read.
inline const float* at(const float* p, int64_t off) {
  return reinterpret_cast<const float*>(reinterpret_cast<intptr_t>(p) + off * static_cast<int64_t>(sizeof(float)));
}

}  // namespace

void depthwise_forward_s1_avx512(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                                 bool relu, int64_t i0, int64_t i1) {
  const int64_t chunks = (g.OW + 15) / 16;
  const std::vector<__mmask16> masks = column_masks(g, chunks);
  for (int64_t item = i0; item < i1; ++item) {
    const int64_t n = item / g.Cout, co = item % g.Cout, ci = co / g.Og;
    const float* xc = x + (n * g.C + ci) * g.H * g.W;
    const float* wc = w + co * g.kh * g.kw;
    float* yc = y + item * g.P;
    const __m512 b0 = _mm512_set1_ps(bias ? bias[co] : 0.0f);
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ch = 0; ch < chunks; ++ch) {
        const int64_t ow0 = ch * 16;
        __m512 acc = b0;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          const float* row = xc + ih * g.W + ow0 - g.pw;
          for (int64_t jj = 0; jj < g.kw; ++jj)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(wc[i * g.kw + jj]),
                                  _mm512_maskz_loadu_ps(masks[jj * chunks + ch], at(row, jj * g.dw)), acc);
        }
        if (relu) acc = _mm512_max_ps(_mm512_setzero_ps(), acc);  // NaN stays NaN
        _mm512_mask_storeu_ps(yc + oh * g.OW + ow0, tail_mask(g.OW - ow0), acc);
      }
    }
  }
}

void depthwise_backward_weight_s1_avx512(const ConvGeom& g, const float* x, const float* gy, float* dw, int64_t c0,
                                         int64_t c1) {
  const int64_t chunks = (g.OW + 15) / 16, taps = g.kh * g.kw;
  constexpr int64_t kMaxTaps = 25;  // larger kernels: the plain loops
  if (taps > kMaxTaps) return depthwise_backward_weight_avx512(g, x, gy, dw, c0, c1);
  const std::vector<__mmask16> masks = column_masks(g, chunks);
  __m512 acc[kMaxTaps];
  for (int64_t co = c0; co < c1; ++co) {
    const int64_t ci = co / g.Og;
    for (int64_t t = 0; t < taps; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t n = 0; n < g.N; ++n) {
      const float* xc = x + (n * g.C + ci) * g.H * g.W;
      const float* gc = gy + (n * g.Cout + co) * g.P;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        for (int64_t ch = 0; ch < chunks; ++ch) {
          const int64_t ow0 = ch * 16;
          const __m512 gv = _mm512_maskz_loadu_ps(tail_mask(g.OW - ow0), gc + oh * g.OW + ow0);
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t ih = oh * g.sh - g.ph + i * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            const float* row = xc + ih * g.W + ow0 - g.pw;
            __m512* a = acc + i * g.kw;
            for (int64_t jj = 0; jj < g.kw; ++jj)
              a[jj] = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(masks[jj * chunks + ch], at(row, jj * g.dw)), a[jj]);
          }
        }
      }
    }
    for (int64_t t = 0; t < taps; ++t) dw[co * taps + t] = _mm512_reduce_add_ps(acc[t]);
  }
}

}  // namespace nn::cpu
