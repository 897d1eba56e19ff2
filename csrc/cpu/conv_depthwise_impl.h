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

// Note [Depthwise padded planes]: each kernel copies the input plane (or accumulates the
// input gradient) in a zero-padded (H + 2ph) x (W + 2pw) scratch plane, so the loops
// over output columns have no bounds tests and one length (OW) for every tap; the
// compiler vectorises them whole.
struct DwPlane {
  int64_t Hp, Wp;
  explicit DwPlane(const ConvGeom& g) : Hp(g.H + 2 * g.ph), Wp(g.W + 2 * g.pw) {}
};

template <typename T>
void dw_pad_plane(const ConvGeom& g, const DwPlane& d, const T* src, T* dst) {
  for (int64_t k = 0; k < d.Hp * d.Wp; ++k) dst[k] = T(0);
  for (int64_t h = 0; h < g.H; ++h) {
    T* out = dst + (h + g.ph) * d.Wp + g.pw;
    const T* in = src + h * g.W;
    for (int64_t w = 0; w < g.W; ++w) out[w] = in[w];
  }
}

template <typename T>
void dw_forward_range(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu, int64_t i0,
                      int64_t i1) {
  const DwPlane d(g);
  T* pad = new T[d.Hp * d.Wp];
  int64_t loaded = -1;
  for (int64_t item = i0; item < i1; ++item) {
    const int64_t n = item / g.Cout, co = item % g.Cout, ci = co / g.Og;
    if (n * g.C + ci != loaded) {
      loaded = n * g.C + ci;
      dw_pad_plane(g, d, x + loaded * g.H * g.W, pad);
    }
    const T* wc = w + co * g.kh * g.kw;
    T* yc = y + item * g.P;
    const T b0 = bias ? bias[co] : T(0);
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      T* __restrict yrow = yc + oh * g.OW;
      for (int64_t ow = 0; ow < g.OW; ++ow) yrow[ow] = b0;
      for (int64_t i = 0; i < g.kh; ++i) {
        const T* prow = pad + (oh * g.sh + i * g.dh) * d.Wp;
        for (int64_t j = 0; j < g.kw; ++j) {
          const T wv = wc[i * g.kw + j];
          const T* __restrict in = prow + j * g.dw;
          if (g.sw == 1) {
            for (int64_t ow = 0; ow < g.OW; ++ow) yrow[ow] += wv * in[ow];
          } else {
            for (int64_t ow = 0; ow < g.OW; ++ow) yrow[ow] += wv * in[ow * g.sw];
          }
        }
      }
      if (relu)
        for (int64_t ow = 0; ow < g.OW; ++ow) yrow[ow] = yrow[ow] > T(0) || yrow[ow] != yrow[ow] ? yrow[ow] : T(0);
    }
  }
  delete[] pad;
}

template <typename T>
void dw_backward_input_range(const ConvGeom& g, const T* gy, const T* w, T* dx, int64_t i0, int64_t i1) {
  const DwPlane d(g);
  T* pad = new T[d.Hp * d.Wp];
  for (int64_t item = i0; item < i1; ++item) {
    const int64_t n = item / g.C, ci = item % g.C;
    for (int64_t k = 0; k < d.Hp * d.Wp; ++k) pad[k] = T(0);
    for (int64_t co = ci * g.Og; co < (ci + 1) * g.Og; ++co) {
      const T* gc = gy + (n * g.Cout + co) * g.P;
      const T* wc = w + co * g.kh * g.kw;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const T* __restrict grow = gc + oh * g.OW;
        for (int64_t i = 0; i < g.kh; ++i) {
          T* prow = pad + (oh * g.sh + i * g.dh) * d.Wp;
          for (int64_t j = 0; j < g.kw; ++j) {
            const T wv = wc[i * g.kw + j];
            T* __restrict out = prow + j * g.dw;
            if (g.sw == 1) {
              for (int64_t ow = 0; ow < g.OW; ++ow) out[ow] += wv * grow[ow];
            } else {
              for (int64_t ow = 0; ow < g.OW; ++ow) out[ow * g.sw] += wv * grow[ow];
            }
          }
        }
      }
    }
    T* dxc = dx + item * g.H * g.W;
    for (int64_t h = 0; h < g.H; ++h) {
      const T* in = pad + (h + g.ph) * d.Wp + g.pw;
      for (int64_t x0 = 0; x0 < g.W; ++x0) dxc[h * g.W + x0] = in[x0];
    }
  }
  delete[] pad;
}

template <typename T>
void dw_backward_weight_range(const ConvGeom& g, const T* x, const T* gy, T* dw, int64_t c0, int64_t c1) {
  const DwPlane d(g);
  T* pad = new T[d.Hp * d.Wp];
  const int64_t taps = g.kh * g.kw;
  T* acc = new T[taps * g.OW];  // per tap, one partial sum per output column (vectorises)
  for (int64_t co = c0; co < c1; ++co) {
    const int64_t ci = co / g.Og;
    for (int64_t k = 0; k < taps * g.OW; ++k) acc[k] = T(0);
    for (int64_t n = 0; n < g.N; ++n) {
      dw_pad_plane(g, d, x + (n * g.C + ci) * g.H * g.W, pad);
      const T* gc = gy + (n * g.Cout + co) * g.P;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const T* __restrict grow = gc + oh * g.OW;
        for (int64_t i = 0; i < g.kh; ++i) {
          const T* prow = pad + (oh * g.sh + i * g.dh) * d.Wp;
          for (int64_t j = 0; j < g.kw; ++j) {
            T* __restrict a = acc + (i * g.kw + j) * g.OW;
            const T* __restrict in = prow + j * g.dw;
            if (g.sw == 1) {
              for (int64_t ow = 0; ow < g.OW; ++ow) a[ow] += grow[ow] * in[ow];
            } else {
              for (int64_t ow = 0; ow < g.OW; ++ow) a[ow] += grow[ow] * in[ow * g.sw];
            }
          }
        }
      }
    }
    for (int64_t t = 0; t < taps; ++t) {
      T total = 0;
      for (int64_t ow = 0; ow < g.OW; ++ow) total += acc[t * g.OW + ow];
      dw[co * taps + t] = total;
    }
  }
  delete[] acc;
  delete[] pad;
}
