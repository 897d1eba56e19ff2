// conv_pack_impl.h — the segment table behind the vector B-panel packers of the
// implicit-GEMM convolution (conv_gemm.h; conv_gemm_avx512.cpp, conv_gemm_avx2.cpp).
// Plain C++ (no intrinsics); included inside each ISA unit's anonymous namespace.
//
// The lanes of one vector of a B panel row that fall in one output row read input
// columns sw apart (consecutive for sw == 1). For a panel (output positions
// [p0, p0 + nr)), a vector width `vec` and each kernel tap r = i*kw + jj, the table
// lists per vector v the segments {off, lo, hi}: lanes [lo, hi) load
// x_c[off + lane*sw] (x_c the channel's plane); every other lane is zero (padding, or
// outside [0, P); p0 may be negative). Rows outside the image have no segment. Segments of one vector are
// disjoint, at most `vec` of them.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

struct ConvPanelSeg {
  int64_t off;
  int32_t lo, hi;
};

struct ConvPanelTable {
  int64_t nv = 0;                // vectors per panel row
  std::vector<int32_t> count;    // [r*nv + v]
  std::vector<ConvPanelSeg> seg; // [(r*nv + v)*vec + e]
};

inline void conv_panel_table(const nn::cpu::ConvGeom& g, int64_t p0, int nr, int vec, ConvPanelTable& t) {
  const int64_t khw = g.kh * g.kw;
  t.nv = nr / vec;
  t.count.assign(static_cast<size_t>(khw * t.nv), 0);
  t.seg.resize(static_cast<size_t>(khw * t.nv * vec));
  for (int64_t v = 0; v < t.nv; ++v) {
    int l = 0;
    while (l < vec) {
      const int64_t p = p0 + v * vec + l;
      if (p >= g.P) break;
      if (p < 0) {  // a panel that starts in an earlier image (p0 < 0): zero lanes
        l += static_cast<int>(std::min<int64_t>(vec - l, -p));
        continue;
      }
      const int64_t oh = p / g.OW, ow = p % g.OW;
      const int len = static_cast<int>(std::min<int64_t>(vec - l, g.OW - ow));
      for (int64_t r = 0; r < khw; ++r) {
        const int64_t i = r / g.kw, jj = r % g.kw;
        const int64_t ih = oh * g.sh - g.ph + i * g.dh;
        if (ih < 0 || ih >= g.H) continue;
        const int64_t iw0 = ow * g.sw - g.pw + jj * g.dw;  // input column of lane l
        const int64_t lo = l + (iw0 >= 0 ? 0 : (-iw0 + g.sw - 1) / g.sw);
        const int64_t hi = l + (g.W - 1 - iw0 < 0 ? 0 : std::min<int64_t>(len, (g.W - 1 - iw0) / g.sw + 1));
        if (lo >= hi) continue;
        const size_t slot = static_cast<size_t>(r * t.nv + v);
        t.seg[slot * vec + t.count[slot]] = {ih * g.W + iw0 - l * g.sw, static_cast<int32_t>(lo),
                                             static_cast<int32_t>(hi)};
        ++t.count[slot];
      }
      l += len;
    }
  }
}

// Channels c with k = c*khw + r in [k0, k1): [c0, c1).
inline void conv_tap_channels(int64_t k0, int64_t k1, int64_t r, int64_t khw, int64_t& c0, int64_t& c1) {
  c0 = k0 > r ? (k0 - r + khw - 1) / khw : 0;
  c1 = k1 - 1 >= r ? (k1 - 1 - r) / khw + 1 : 0;
}
