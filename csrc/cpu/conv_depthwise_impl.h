// conv_depthwise_impl.h — the depthwise (C/groups == 1) direct kernels over a range of
// work items, written once and compiled per ISA: included inside an anonymous
// namespace by conv_kernels.cpp (generic, float and double) and by
// conv_depthwise_avx512.cpp / conv_depthwise_avx2.cpp (float, with that unit's flags),
// so each unit gets its own internal-linkage copy (no ODR clash between ISA builds).
// No std:: templates in here for the same reason (a shared inline instantiation
// compiled with AVX-512 flags could be linked into the generic path).
//
// Layout as in conv_kernels.h. Output channel co reads input channel co / Og (Og = the
// channel multiplier). Items: forward (n, co) planes; backward input (n, ci) planes;
// backward weight output channels co.

inline void dw_valid_range(int64_t OW, int64_t W, int64_t s, int64_t start, int64_t& lo, int64_t& hi) {
  lo = start >= 0 ? 0 : (-start + s - 1) / s;
  hi = W - 1 - start < 0 ? 0 : (W - 1 - start) / s + 1;
  if (lo > OW) lo = OW;
  if (hi < lo) hi = lo;
  if (hi > OW) hi = OW;
}

template <typename T>
void dw_forward_range(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu, int64_t i0,
                      int64_t i1) {
  for (int64_t item = i0; item < i1; ++item) {
    const int64_t n = item / g.Cout, co = item % g.Cout, ci = co / g.Og;
    const T* xc = x + (n * g.C + ci) * g.H * g.W;
    const T* wc = w + co * g.kh * g.kw;
    T* yc = y + item * g.P;
    const T b0 = bias ? bias[co] : T(0);
    for (int64_t k = 0; k < g.P; ++k) yc[k] = b0;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      T* __restrict yrow = yc + oh * g.OW;
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t ih = oh * g.sh - g.ph + i * g.dh;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t j = 0; j < g.kw; ++j) {
          int64_t lo, hi;
          const int64_t woff = j * g.dw - g.pw;
          dw_valid_range(g.OW, g.W, g.sw, woff, lo, hi);
          const T wv = wc[i * g.kw + j];
          const T* __restrict in = xc + ih * g.W + woff;
          if (g.sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) yrow[ow] += wv * in[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) yrow[ow] += wv * in[ow * g.sw];
          }
        }
      }
    }
    if (relu)
      for (int64_t k = 0; k < g.P; ++k) yc[k] = yc[k] > T(0) || yc[k] != yc[k] ? yc[k] : T(0);
  }
}

template <typename T>
void dw_backward_input_range(const ConvGeom& g, const T* gy, const T* w, T* dx, int64_t i0, int64_t i1) {
  for (int64_t item = i0; item < i1; ++item) {
    const int64_t n = item / g.C, ci = item % g.C;
    T* dxc = dx + item * g.H * g.W;
    for (int64_t k = 0; k < g.H * g.W; ++k) dxc[k] = T(0);
    for (int64_t co = ci * g.Og; co < (ci + 1) * g.Og; ++co) {
      const T* gc = gy + (n * g.Cout + co) * g.P;
      const T* wc = w + co * g.kh * g.kw;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const T* __restrict grow = gc + oh * g.OW;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            int64_t lo, hi;
            const int64_t woff = j * g.dw - g.pw;
            dw_valid_range(g.OW, g.W, g.sw, woff, lo, hi);
            const T wv = wc[i * g.kw + j];
            T* __restrict out = dxc + ih * g.W + woff;
            if (g.sw == 1) {
              for (int64_t ow = lo; ow < hi; ++ow) out[ow] += wv * grow[ow];
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) out[ow * g.sw] += wv * grow[ow];
            }
          }
        }
      }
    }
  }
}

template <typename T>
void dw_backward_weight_range(const ConvGeom& g, const T* x, const T* gy, T* dw, int64_t c0, int64_t c1) {
  constexpr int kLanes = 16;  // independent partial sums so the dot products vectorize
  for (int64_t co = c0; co < c1; ++co) {
    const int64_t ci = co / g.Og;
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        int64_t lo, hi;
        const int64_t woff = j * g.dw - g.pw;
        dw_valid_range(g.OW, g.W, g.sw, woff, lo, hi);
        T acc[kLanes] = {};
        T tail = 0;
        for (int64_t n = 0; n < g.N; ++n) {
          const T* xc = x + (n * g.C + ci) * g.H * g.W;
          const T* gc = gy + (n * g.Cout + co) * g.P;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            const int64_t ih = oh * g.sh - g.ph + i * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            const T* grow = gc + oh * g.OW;
            const T* in = xc + ih * g.W + woff;
            int64_t ow = lo;
            if (g.sw == 1) {
              for (; ow + kLanes <= hi; ow += kLanes)
                for (int l = 0; l < kLanes; ++l) acc[l] += grow[ow + l] * in[ow + l];
            }
            for (; ow < hi; ++ow) tail += grow[ow] * in[ow * g.sw];
          }
        }
        T total = tail;
        for (int l = 0; l < kLanes; ++l) total += acc[l];
        dw[co * g.kh * g.kw + i * g.kw + j] = total;
      }
    }
  }
}
