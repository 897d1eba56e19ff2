// conv_depthwise_fast_impl.h — the register-accumulator depthwise kernels for sw 1 or 2
// (any kernel, sh, padding, dilation), float32, written once over a vector traits type
// V (lanes V::kLanes; zero, set1, masked load/store, fma, relu, horizontal sum) and
// compiled per ISA (kCheapMasks, loadu, storeu: Note [Depthwise full masks]). V also provides deinterleave(in, n, even, odd) (even[k] = in[2k],
// odd[k] = in[2k+1] for k below the returned count <= n) and interleave(even, odd, n, out)
// (the inverse). Included inside an anonymous namespace by
// conv_depthwise_fast_avx512.cpp and conv_depthwise_fast_avx2.cpp after their V.
// One vector covers kLanes output columns; padding columns are masked loads (no padded
// copy of the plane) and rows outside the image are skipped. The plain loops they are
// tested against are conv_depthwise_impl.h (same results up to rounding).
//
// Layout as in conv_kernels.h. Items: forward (n, co) planes; input gradient (n, ci)
// planes; weight gradient output channels co (sum over n, oh, ow in that order per
// lane, then over the lanes), so no result depends on how items are split across threads.

// Lane masks of output chunk ch (columns [L*ch, L*ch + L)) at tap column jj: lanes whose
// output column is < OW and whose input column lies in [0, W), as bits.
template <int L>
std::vector<unsigned> dw_column_masks(const ConvGeom& g, int64_t chunks) {
  std::vector<unsigned> m(static_cast<size_t>(g.kw * chunks));
  for (int64_t jj = 0; jj < g.kw; ++jj)
    for (int64_t ch = 0; ch < chunks; ++ch) {
      unsigned bits = 0;
      for (int l = 0; l < L; ++l) {
        const int64_t ow = ch * L + l, iw = ow * g.sw - g.pw + jj * g.dw;
        if (ow < g.OW && iw >= 0 && iw < g.W) bits |= 1u << l;
      }
      m[static_cast<size_t>(jj * chunks + ch)] = bits;
    }
  return m;
}

// A lane mask and whether it selects every lane. Note [Depthwise full masks]: AVX2's
// masked moves are slow on some chips (AMD Zen 2/3: a vmaskmovps store costs about a
// dozen cycles, more than the nine FMAs of a 3x3 output vector), so with
// V::kCheapMasks false the interior vectors, whose masks are full, use plain loads and
// stores; AVX-512 masks cost nothing and are always used.
template <typename V>
struct DwMask {
  typename V::Mask m;
  bool full;
};

inline unsigned dw_tail_bits(int64_t n, int L) { return n >= L ? (1u << L) - 1u : (1u << n) - 1u; }

template <typename V>
DwMask<V> dw_mask(unsigned bits) {
  return {V::mask(bits), bits == (1u << V::kLanes) - 1u};
}

template <typename V>
inline typename V::Reg dw_load(const DwMask<V>& m, const float* p) {
  if constexpr (!V::kCheapMasks)
    if (m.full) return V::loadu(p);
  return V::load(m.m, p);
}

template <typename V>
inline void dw_store(float* p, const DwMask<V>& m, typename V::Reg v) {
  if constexpr (!V::kCheapMasks)
    if (m.full) return V::storeu(p, v);
  V::store(p, m.m, v);
}

// p + off without forming an out-of-range pointer in C++ terms; masked-off lanes are not read.
inline const float* dw_at(const float* p, int64_t off) {
  return reinterpret_cast<const float*>(reinterpret_cast<intptr_t>(p) + off * static_cast<int64_t>(sizeof(float)));
}

// Note [Depthwise column phases]: the kernels read kLanes consecutive input columns per
// tap. With sw == 2, the input column of output column ow at tap jj is
// 2*ow + s (s = jj*dw - pw) = 2*(ow + off) + q with q = s mod 2: each plane is first
// split into its even (q = 0, ceil(W/2) columns) and odd (q = 1, floor(W/2)) columns,
// and tap jj reads phase q at column ow + off, unit stride again. With sw == 1 the
// plane is read in place (q = 0, off = s).
template <typename V>
struct DwSource {
  int64_t ld[2] = {0, 0};       // row stride of each phase
  const float* base[2] = {nullptr, nullptr};
  std::vector<int64_t> tap_q, tap_off;  // per tap column jj
  std::vector<float> buf;       // the phases (sw == 2)
  const float* plane = nullptr;  // the plane the phases were built from

  explicit DwSource(const ConvGeom& g) : tap_q(static_cast<size_t>(g.kw)), tap_off(static_cast<size_t>(g.kw)) {
    for (int64_t jj = 0; jj < g.kw; ++jj) {
      const int64_t s = jj * g.dw - g.pw;
      tap_q[jj] = g.sw == 1 ? 0 : ((s % 2) + 2) % 2;
      tap_off[jj] = g.sw == 1 ? s : (s - tap_q[jj]) / 2;
    }
    ld[0] = g.sw == 1 ? g.W : (g.W + 1) / 2;
    ld[1] = g.sw == 1 ? g.W : g.W / 2;
    if (g.sw != 1) buf.resize(static_cast<size_t>(g.H * (ld[0] + ld[1])));
  }
  void set_plane(const ConvGeom& g, const float* xc) {
    if (g.sw == 1) {
      base[0] = base[1] = xc;
      return;
    }
    base[0] = buf.data();
    base[1] = buf.data() + g.H * ld[0];
    if (xc == plane) return;
    plane = xc;
    float* even = buf.data();
    float* odd = buf.data() + g.H * ld[0];
    for (int64_t h = 0; h < g.H; ++h) {
      const float* in = xc + h * g.W;
      const int64_t done = V::deinterleave(in, ld[1], even + h * ld[0], odd + h * ld[1]);
      for (int64_t k = done; k < ld[0]; ++k) even[h * ld[0] + k] = in[2 * k];
      for (int64_t k = done; k < ld[1]; ++k) odd[h * ld[1] + k] = in[2 * k + 1];
    }
  }
  // Lane l of the result reads input row ih at output column ow0 + l for tap column jj.
  const float* row(int64_t ih, int64_t jj, int64_t ow0) const {
    const int64_t q = tap_q[jj];
    return dw_at(base[q], ih * ld[q] + ow0 + tap_off[jj]);
  }
};

// KH, KW: the kernel size when known at compile time (3x3: the taps' weights and the
// loops live in registers), 0 for any size.
template <typename V, int KH, int KW>
void dw_fast_forward_k(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu,
                       int64_t i0, int64_t i1) {
  constexpr int L = V::kLanes;
  const int64_t kh = KH ? KH : g.kh, kw = KW ? KW : g.kw;
  const int64_t chunks = (g.OW + L - 1) / L;
  const std::vector<unsigned> bits = dw_column_masks<L>(g, chunks);
  std::vector<DwMask<V>> masks;  // boxed: a vector type is not a clean template argument
  for (unsigned b : bits) masks.push_back(dw_mask<V>(b));
  DwSource<V> src(g);
  for (int64_t item = i0; item < i1; ++item) {
    const int64_t n = item / g.Cout, co = item % g.Cout, ci = co / g.Og;
    src.set_plane(g, x + (n * g.C + ci) * g.H * g.W);
    const float* wc = w + co * kh * kw;
    float* yc = y + item * g.P;
    const typename V::Reg b0 = V::set1(bias ? bias[co] : 0.0f);
    typename V::Reg wv[KH * KW > 0 ? KH * KW : 1];
    if constexpr (KH * KW > 0)
      for (int t = 0; t < KH * KW; ++t) wv[t] = V::set1(wc[t]);
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ch = 0; ch < chunks; ++ch) {
        const int64_t ow0 = ch * L;
        typename V::Reg acc = b0;
#pragma GCC unroll 8
        for (int64_t i = 0; i < kh; ++i) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.H) continue;
#pragma GCC unroll 8
          for (int64_t jj = 0; jj < kw; ++jj) {
            typename V::Reg wt;
            if constexpr (KH * KW > 0) wt = wv[i * KW + jj];
            else wt = V::set1(wc[i * kw + jj]);
            acc = V::fma(wt, dw_load(masks[jj * chunks + ch], src.row(ih, jj, ow0)), acc);
          }
        }
        if (relu) acc = V::relu(acc);  // NaN stays NaN
        dw_store(yc + oh * g.OW + ow0, dw_mask<V>(dw_tail_bits(g.OW - ow0, L)), acc);
      }
    }
  }
}

// Note [Depthwise 3x3 stride 1]: the common case (3x3, stride 1, no dilation, any
// padding) reads the plane in place with no per-load address arithmetic: for one chunk
// of L output columns the three tap columns' masks are fixed, and each output row reads
// three input rows at three column shifts (9 loads, 9 FMAs). Rows above or below the
// image read a row of zeros instead of branching, and taps whose masks are full use plain
// loads (Note [Depthwise full masks]). Consecutive output rows are
// independent FMA chains, which the out-of-order core overlaps.
template <typename V>
inline void dw_3x3s1_chunk(const ConvGeom& g, const float* plane, const float* zero_row, int64_t ow0,
                           const DwMask<V> (&m)[3], const DwMask<V>& out_mask, const typename V::Reg (&wv)[9],
                           typename V::Reg b0, bool relu, float* yc) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    typename V::Reg acc = b0;
#pragma GCC unroll 3
    for (int i = 0; i < 3; ++i) {
      const int64_t ih = oh - g.ph + i;
      const float* row = dw_at(ih >= 0 && ih < g.H ? plane + ih * g.W : zero_row, ow0 - g.pw);
#pragma GCC unroll 3
      for (int jj = 0; jj < 3; ++jj) {
        const typename V::Reg v = dw_load(m[jj], dw_at(row, jj));
        acc = V::fma(wv[i * 3 + jj], v, acc);
      }
    }
    if (relu) acc = V::relu(acc);  // NaN stays NaN
    dw_store(yc + oh * g.OW + ow0, out_mask, acc);
  }
}

template <typename V>
void dw_fast_forward_3x3s1(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu,
                           int64_t i0, int64_t i1) {
  constexpr int L = V::kLanes;
  const int64_t chunks = (g.OW + L - 1) / L;
  const std::vector<unsigned> bits = dw_column_masks<L>(g, chunks);
  // The zero row is read at columns ow0 - pw + jj in [-pw, OW + 2): pw + OW + 2 + L floats
  // from zero_row - pw - L (only unmasked lanes are read, all inside the buffer).
  std::vector<float> zeros(static_cast<size_t>(g.W + 2 * g.pw + 3 * L + 2), 0.0f);
  const float* zero_row = zeros.data() + g.pw + L;
  for (int64_t item = i0; item < i1; ++item) {
    const int64_t n = item / g.Cout, co = item % g.Cout, ci = co / g.Og;
    const float* plane = x + (n * g.C + ci) * g.H * g.W;
    const float* wc = w + co * 9;
    float* yc = y + item * g.P;
    typename V::Reg wv[9];
    for (int t = 0; t < 9; ++t) wv[t] = V::set1(wc[t]);
    const typename V::Reg b0 = V::set1(bias ? bias[co] : 0.0f);
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const int64_t ow0 = ch * L;
      const DwMask<V> m[3] = {dw_mask<V>(bits[0 * chunks + ch]), dw_mask<V>(bits[1 * chunks + ch]),
                              dw_mask<V>(bits[2 * chunks + ch])};
      const DwMask<V> out_mask = dw_mask<V>(dw_tail_bits(g.OW - ow0, L));
      dw_3x3s1_chunk<V>(g, plane, zero_row, ow0, m, out_mask, wv, b0, relu, yc);
    }
  }
}

template <typename V>
void dw_fast_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu,
                     int64_t i0, int64_t i1) {
  if (g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1)
    return dw_fast_forward_3x3s1<V>(g, x, w, bias, y, relu, i0, i1);
  if (g.kh == 3 && g.kw == 3) return dw_fast_forward_k<V, 3, 3>(g, x, w, bias, y, relu, i0, i1);
  dw_fast_forward_k<V, 0, 0>(g, x, w, bias, y, relu, i0, i1);
}

// Kernels of at most kDwMaxTaps taps / kDwMaxRows rows (the callers check).
constexpr int64_t kDwMaxTaps = 25;
constexpr int64_t kDwMaxRows = 25;

template <typename V, int KH, int KW>
void dw_fast_backward_weight_k(const ConvGeom& g, const float* x, const float* gy, float* dw, int64_t c0,
                               int64_t c1) {
  constexpr int L = V::kLanes;
  const int64_t kh = KH ? KH : g.kh, kw = KW ? KW : g.kw;
  const int64_t chunks = (g.OW + L - 1) / L, taps = kh * kw;
  const std::vector<unsigned> bits = dw_column_masks<L>(g, chunks);
  std::vector<DwMask<V>> masks;  // boxed: a vector type is not a clean template argument
  for (unsigned b : bits) masks.push_back(dw_mask<V>(b));
  typename V::Reg acc[KH * KW > 0 ? KH * KW : kDwMaxTaps];
  DwSource<V> src(g);
  for (int64_t co = c0; co < c1; ++co) {
    const int64_t ci = co / g.Og;
    for (int64_t t = 0; t < taps; ++t) acc[t] = V::zero();
    for (int64_t n = 0; n < g.N; ++n) {
      src.set_plane(g, x + (n * g.C + ci) * g.H * g.W);
      const float* gc = gy + (n * g.Cout + co) * g.P;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        for (int64_t ch = 0; ch < chunks; ++ch) {
          const int64_t ow0 = ch * L;
          const typename V::Reg gv = dw_load(dw_mask<V>(dw_tail_bits(g.OW - ow0, L)), gc + oh * g.OW + ow0);
#pragma GCC unroll 8
          for (int64_t i = 0; i < kh; ++i) {
            const int64_t ih = oh * g.sh - g.ph + i * g.dh;
            if (ih < 0 || ih >= g.H) continue;
#pragma GCC unroll 8
            for (int64_t jj = 0; jj < kw; ++jj)
              acc[i * kw + jj] = V::fma(gv, dw_load(masks[jj * chunks + ch], src.row(ih, jj, ow0)), acc[i * kw + jj]);
          }
        }
      }
    }
    for (int64_t t = 0; t < taps; ++t) dw[co * taps + t] = V::sum(acc[t]);
  }
}

template <typename V>
void dw_fast_backward_weight(const ConvGeom& g, const float* x, const float* gy, float* dw, int64_t c0, int64_t c1) {
  if (g.kh == 3 && g.kw == 3) return dw_fast_backward_weight_k<V, 3, 3>(g, x, gy, dw, c0, c1);
  dw_fast_backward_weight_k<V, 0, 0>(g, x, gy, dw, c0, c1);
}

// Input gradient, items (n, ci), as a gather (no read-modify-write of dx): input row ih
// and phase column k (input column 2k + q for sw == 2, k for sw == 1; Note [Depthwise
// column phases]) collect, over the group's output channels co, the rows i with
// ih + ph - i*dh = oh*sh (0 <= oh < OH) and the tap columns jj of phase q,
//   w[co, i, jj] * gy[n, co, oh, k - off_jj]   (0 <= k - off_jj < OW),
// kLanes consecutive k at a time in a register; the phases are then interleaved into dx.
template <typename V, int KH, int KW>
void dw_fast_backward_input_k(const ConvGeom& g, const float* gy, const float* w, float* dx, int64_t i0,
                              int64_t i1) {
  constexpr int L = V::kLanes;
  const int64_t kh = KH ? KH : g.kh, kw = KW ? KW : g.kw, taps = kh * kw;
  const DwSource<V> src(g);  // phase widths and tap phases / offsets
  const int64_t phases = g.sw == 1 ? 1 : 2;
  const int64_t kchunks = (src.ld[0] + L - 1) / L;  // ld[0] >= ld[1]
  // masks[(jj*kchunks + ch)]: lanes k = ch*L + l inside phase tap_q[jj] whose gy column
  // k - off lies in [0, OW); tails[q*kchunks + ch]: lanes inside phase q.
  std::vector<DwMask<V>> masks, tails;
  for (int64_t jj = 0; jj < kw; ++jj)
    for (int64_t ch = 0; ch < kchunks; ++ch) {
      unsigned bits = 0;
      for (int l = 0; l < L; ++l) {
        const int64_t k = ch * L + l, ow = k - src.tap_off[jj];
        if (k < src.ld[src.tap_q[jj]] && ow >= 0 && ow < g.OW) bits |= 1u << l;
      }
      masks.push_back(dw_mask<V>(bits));
    }
  for (int64_t q = 0; q < 2; ++q)
    for (int64_t ch = 0; ch < kchunks; ++ch)
      tails.push_back(dw_mask<V>(dw_tail_bits(src.ld[q] - ch * L, L)));
  const int64_t phase0 = g.H * src.ld[0];
  std::vector<float> scratch(static_cast<size_t>(g.sw == 1 ? 0 : phase0 + g.H * src.ld[1]));
  int64_t oh_of[kDwMaxRows];  // per kernel row i: the output row feeding input row ih, or -1
  for (int64_t item = i0; item < i1; ++item) {
    const int64_t n = item / g.C, ci = item % g.C;
    float* dxc = dx + item * g.H * g.W;
    float* out[2] = {g.sw == 1 ? dxc : scratch.data(), scratch.data() + phase0};
    for (int64_t ih = 0; ih < g.H; ++ih) {
      for (int64_t i = 0; i < kh; ++i) {
        const int64_t t = ih + g.ph - i * g.dh;
        oh_of[i] = t >= 0 && t % g.sh == 0 && t / g.sh < g.OH ? t / g.sh : -1;
      }
      for (int64_t q = 0; q < phases; ++q) {
        for (int64_t ch = 0; ch * L < src.ld[q]; ++ch) {
          typename V::Reg acc = V::zero();
          for (int64_t co = ci * g.Og; co < (ci + 1) * g.Og; ++co) {
            const float* wc = w + co * taps;
            const float* gc = gy + (n * g.Cout + co) * g.P + ch * L;
#pragma GCC unroll 8
            for (int64_t i = 0; i < kh; ++i) {
              if (oh_of[i] < 0) continue;
              const float* row = gc + oh_of[i] * g.OW;
#pragma GCC unroll 8
              for (int64_t jj = 0; jj < kw; ++jj) {
                if (src.tap_q[jj] != q) continue;
                acc = V::fma(V::set1(wc[i * kw + jj]),
                             dw_load(masks[jj * kchunks + ch], dw_at(row, -src.tap_off[jj])), acc);
              }
            }
          }
          dw_store(out[q] + ih * src.ld[q] + ch * L, tails[q * kchunks + ch], acc);
        }
      }
    }
    if (g.sw == 1) continue;
    for (int64_t h = 0; h < g.H; ++h) {
      const float* e = out[0] + h * src.ld[0];
      const float* o = out[1] + h * src.ld[1];
      const int64_t done = V::interleave(e, o, src.ld[1], dxc + h * g.W);
      for (int64_t k = done; k < src.ld[0]; ++k) dxc[h * g.W + 2 * k] = e[k];
      for (int64_t k = done; k < src.ld[1]; ++k) dxc[h * g.W + 2 * k + 1] = o[k];
    }
  }
}

// Kernels of at most kDwMaxRows rows (the caller checks).
template <typename V>
void dw_fast_backward_input(const ConvGeom& g, const float* gy, const float* w, float* dx, int64_t i0, int64_t i1) {
  if (g.kh == 3 && g.kw == 3) return dw_fast_backward_input_k<V, 3, 3>(g, gy, w, dx, i0, i1);
  dw_fast_backward_input_k<V, 0, 0>(g, gy, w, dx, i0, i1);
}
