// conv_kernels.cpp — 2-D convolution kernels: im2col + packed GEMM (forward, input
// gradient through col2im, weight gradient), and a direct kernel for depthwise
// convolutions (one input channel per group).
//
// Layout: x (N, C, H, W), w (Cout, C/G, kh, kw), y (N, Cout, OH, OW), all contiguous
// NCHW of one dtype (float32 or float64). Per image n and group g, with K = C/G*kh*kw
// and P = OH*OW:
//   col   (K, P)       col[(c*kh + i)*kw + j, oh*OW + ow] = x[n, g*C/G + c, ih, iw]
//                      with ih = oh*sh - ph + i*dh, iw = ow*sw - pw + j*dw (0 outside)
//   y_ng  (Cout/G, P)  = w_g (Cout/G, K) @ col       + bias (per row), relu fused
//   dcol  (K, P)       = w_g^T @ gy_ng, then col2im adds it back into dx_ng
//   dw_g  (Cout/G, K) += gy_ng @ col^T   (summed over images)
// A 1x1 convolution with stride 1 and no padding uses x_ng itself as col (no copy).
// float32 runs nn::gemm::sgemm with the epilogue (BiasKind::PerRow, Activation::Relu)
// fused into the write-back; float64 runs gemm_ref<double> (tests, gradcheck).
//
// float32 non-depthwise convolutions mostly take the implicit-GEMM kernels instead
// (cpu/conv_gemm.cpp: no col matrix, B panels packed straight from the image): the
// forward always, the input gradient for stride 1 (a forward conv of gy with the
// flipped weight), the weight gradient where conv_weight_grad_implicit_pays (a function
// of the geometry only). The im2col paths below serve float64 and the rest.
//
// Threads: parallel_for over (image block, group) items (Note [Image blocks]), each
// with its own scratch col buffer and a single-threaded GEMM (sgemm runs serially inside
// a parallel region); with one item the GEMM itself is threaded. The weight gradient
// does not depend on the thread count (Note [Deterministic weight gradient]).
//
// The direct nested-loop reference these are tested against is in conv_ref.cpp.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/parallel.h"
#include "cpu/conv_gemm.h"
#include "cpu/conv_kernels.h"
#include "cpu/cpu_features.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/gemm/gemm.h"
#include "cpu/kernels.h"

namespace nn::cpu {

ConvGeom conv_geom(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p) {
  ConvGeom g;
  g.N = x.sizes()[0];
  g.C = x.sizes()[1];
  g.H = x.sizes()[2];
  g.W = x.sizes()[3];
  g.Cout = w.sizes()[0];
  g.kh = w.sizes()[2];
  g.kw = w.sizes()[3];
  g.OH = y.sizes()[2];
  g.OW = y.sizes()[3];
  g.G = p.groups;
  g.Cg = g.C / g.G;
  g.Og = g.Cout / g.G;
  g.K = g.Cg * g.kh * g.kw;
  g.P = g.OH * g.OW;
  g.sh = p.stride[0];
  g.sw = p.stride[1];
  g.ph = p.padding[0];
  g.pw = p.padding[1];
  g.dh = p.dilation[0];
  g.dw = p.dilation[1];
  g.pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
  return g;
}

namespace {

// [lo, hi): the output columns ow whose input column ow*s - pad + off lies in [0, W).
inline void valid_range(int64_t OW, int64_t W, int64_t s, int64_t start, int64_t& lo, int64_t& hi) {
  // start = -pad + j*dil; need 0 <= ow*s + start <= W-1
  lo = start >= 0 ? 0 : (-start + s - 1) / s;
  hi = W - 1 - start < 0 ? 0 : (W - 1 - start) / s + 1;
  lo = std::min(lo, OW);
  hi = std::min(std::max(hi, lo), OW);
}

// col rows have stride ld (>= P): several images of a block sit side by side.
template <typename T>
void im2col(const T* x, T* col, int64_t ld, const ConvGeom& g) {
  if (g.pointwise) {
    for (int64_t c = 0; c < g.Cg; ++c) std::memcpy(col + c * ld, x + c * g.P, sizeof(T) * g.P);
    return;
  }
  for (int64_t c = 0; c < g.Cg; ++c) {
    const T* xc = x + c * g.H * g.W;
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * ld;
        int64_t lo, hi;
        valid_range(g.OW, g.W, g.sw, j * g.dw - g.pw, lo, hi);
        const int64_t woff = j * g.dw - g.pw;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* out = row + oh * g.OW;
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.H) {
            std::fill(out, out + g.OW, T(0));
            continue;
          }
          const T* in = xc + ih * g.W + woff;
          std::fill(out, out + lo, T(0));
          if (g.sw == 1) {
            std::memcpy(out + lo, in + lo, sizeof(T) * (hi - lo));
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * g.sw];
          }
          std::fill(out + hi, out + g.OW, T(0));
        }
      }
    }
  }
}

// dx (Cg, H, W) += col2im(col): every column entry goes back to the pixel it came from.
template <typename T>
void col2im_add(const T* col, int64_t ld, T* dx, const ConvGeom& g) {
  if (g.pointwise) {
    for (int64_t c = 0; c < g.Cg; ++c)
      for (int64_t k = 0; k < g.P; ++k) dx[c * g.P + k] += col[c * ld + k];
    return;
  }
  for (int64_t c = 0; c < g.Cg; ++c) {
    T* dxc = dx + c * g.H * g.W;
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = col + ((c * g.kh + i) * g.kw + j) * ld;
        int64_t lo, hi;
        valid_range(g.OW, g.W, g.sw, j * g.dw - g.pw, lo, hi);
        const int64_t woff = j * g.dw - g.pw;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          const T* in = row + oh * g.OW;
          T* out = dxc + ih * g.W + woff;
          if (g.sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) out[ow] += in[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) out[ow * g.sw] += in[ow];
          }
        }
      }
    }
  }
}

// C (M, N) = A @ B (+ beta*C) + bias[m], relu; C row stride c_rs, unit column stride.
template <typename T>
void gemm_call(int64_t M, int64_t N, int64_t K, const T* A, int64_t a_rs, int64_t a_cs, const T* B, int64_t b_rs,
               int64_t b_cs, T* C, int64_t c_rs, float beta, const T* bias, bool relu) {
  if constexpr (std::is_same_v<T, float>) {
    gemm::Epilogue ep;
    ep.beta = beta;
    if (bias) {
      ep.bias = bias;
      ep.bias_kind = gemm::BiasKind::PerRow;
    }
    ep.act = relu ? gemm::Activation::Relu : gemm::Activation::None;
    gemm::sgemm(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C, c_rs, 1, ep);
  } else {
    gemm::Epilogue ep;
    ep.beta = beta;
    gemm::gemm_ref<T>(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C, c_rs, 1, ep);
    if (bias || relu) {
      for (int64_t m = 0; m < M; ++m) {
        T* row = C + m * c_rs;
        const T b = bias ? bias[m] : T(0);
        for (int64_t n = 0; n < N; ++n) {
          const T v = row[n] + b;
          row[n] = relu && !(v > T(0)) && v == v ? T(0) : v;
        }
      }
    }
  }
}

template <typename T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

// ---- im2col + GEMM ------------------------------------------------------------------
// Note [Image blocks]: a GEMM with few columns (P = 64 for an 8x8 output) runs far from
// peak, so images are processed in blocks of nb: their col matrices sit side by side
// (K, nb*P) and one GEMM covers the block; its (Og, nb*P) result is then copied to each
// image's rows of y. nb aims at >= 512 columns with col under ~2 MiB, and leaves at
// least one block per thread. With nb == 1 the GEMM reads x (pointwise) and writes y
// directly.

struct Blocks {
  int64_t count, per;  // number of blocks; block b holds images [N*b/count, N*(b+1)/count)
  int64_t begin(int64_t b, int64_t N) const { return N * b / count; }
};

Blocks image_blocks(const ConvGeom& g, size_t elem, int64_t threads) {
  int64_t nb = std::max<int64_t>(1, (512 + g.P - 1) / std::max<int64_t>(g.P, 1));
  nb = std::min(nb, std::max<int64_t>(1, (int64_t{2} << 20) / static_cast<int64_t>(elem * std::max<int64_t>(g.K, 1) *
                                                                                     std::max<int64_t>(g.P, 1))));
  nb = std::min(nb, std::max<int64_t>(1, g.N * g.G / threads));
  nb = std::min(nb, std::max<int64_t>(g.N, 1));
  int64_t count = (g.N + nb - 1) / nb;
  if (count > 1 && threads > 1 && g.G * count >= threads) count = ((g.G * count + threads - 1) / threads) * threads / g.G;
  count = std::max<int64_t>(1, std::min(count, g.N));
  return {count, (g.N + count - 1) / count};
}

template <typename T>
void forward_gemm(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu) {
  const Blocks bl = image_blocks(g, sizeof(T), get_num_threads());
  parallel_for(0, bl.count * g.G, 1, [&](int64_t i0, int64_t i1) {
    std::unique_ptr<T[]> col, tmp;
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t b = item / g.G, gr = item % g.G;
      const int64_t n0 = bl.begin(b, g.N), n1 = bl.begin(b + 1, g.N), nb = n1 - n0, ld = nb * g.P;
      const T* xg = x + (n0 * g.C + gr * g.Cg) * g.H * g.W;
      T* yg = y + (n0 * g.Cout + gr * g.Og) * g.P;
      const T* bg = bias ? bias + gr * g.Og : nullptr;
      const T* B = xg;
      if (!(g.pointwise && nb == 1)) {
        if (!col) col = scratch<T>(g.K * bl.per * g.P);
        for (int64_t n = 0; n < nb; ++n) im2col(xg + n * g.C * g.H * g.W, col.get() + n * g.P, ld, g);
        B = col.get();
      }
      if (nb == 1) {
        gemm_call<T>(g.Og, g.P, g.K, w + gr * g.Og * g.K, g.K, 1, B, ld, 1, yg, g.P, 0.0f, bg, relu);
        continue;
      }
      if (!tmp) tmp = scratch<T>(g.Og * bl.per * g.P);
      gemm_call<T>(g.Og, ld, g.K, w + gr * g.Og * g.K, g.K, 1, B, ld, 1, tmp.get(), ld, 0.0f, bg, relu);
      for (int64_t n = 0; n < nb; ++n)
        for (int64_t o = 0; o < g.Og; ++o)
          std::memcpy(yg + (n * g.Cout + o) * g.P, tmp.get() + o * ld + n * g.P, sizeof(T) * g.P);
    }
  });
}

// The block's gy rows (Og, nb*P) side by side (or gy itself when nb == 1).
template <typename T>
const T* gather_gy(const ConvGeom& g, const T* gyg, int64_t nb, std::unique_ptr<T[]>& buf, int64_t cap) {
  if (nb == 1) return gyg;
  if (!buf) buf = scratch<T>(g.Og * cap);
  const int64_t ld = nb * g.P;
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t o = 0; o < g.Og; ++o)
      std::memcpy(buf.get() + o * ld + n * g.P, gyg + (n * g.Cout + o) * g.P, sizeof(T) * g.P);
  return buf.get();
}

template <typename T>
void backward_input_gemm(const ConvGeom& g, const T* gy, const T* w, T* dx) {
  const Blocks bl = image_blocks(g, sizeof(T), get_num_threads());
  parallel_for(0, bl.count * g.G, 1, [&](int64_t i0, int64_t i1) {
    std::unique_ptr<T[]> dcol, gbuf;
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t b = item / g.G, gr = item % g.G;
      const int64_t n0 = bl.begin(b, g.N), n1 = bl.begin(b + 1, g.N), nb = n1 - n0, ld = nb * g.P;
      T* dxg = dx + (n0 * g.C + gr * g.Cg) * g.H * g.W;
      const T* G = gather_gy(g, gy + (n0 * g.Cout + gr * g.Og) * g.P, nb, gbuf, bl.per * g.P);
      if (g.pointwise && nb == 1) {  // dx_ng = w_g^T @ gy_ng directly
        gemm_call<T>(g.K, g.P, g.Og, w + gr * g.Og * g.K, 1, g.K, G, ld, 1, dxg, g.P, 0.0f, nullptr, false);
        continue;
      }
      if (!dcol) dcol = scratch<T>(g.K * bl.per * g.P);
      // w_g^T (K, Og): element [k, o] at w_g[o*K + k]
      gemm_call<T>(g.K, ld, g.Og, w + gr * g.Og * g.K, 1, g.K, G, ld, 1, dcol.get(), ld, 0.0f, nullptr, false);
      for (int64_t n = 0; n < nb; ++n) {
        T* dxn = dxg + n * g.C * g.H * g.W;
        std::fill(dxn, dxn + g.Cg * g.H * g.W, T(0));
        col2im_add(dcol.get() + n * g.P, ld, dxn, g);
      }
    }
  });
}

// Note [Deterministic weight gradient]: dw sums over images. The image blocks here are
// planned as for one thread, every block writes its own partial dw (beta = 0), and the
// partials are added in block order, so dw is bitwise the same for any thread count
// (the GEMM splits rows and columns across threads, never the reduction).
template <typename T>
void backward_weight_gemm(const ConvGeom& g, const T* x, const T* gy, T* dw) {
  const Blocks bl = image_blocks(g, sizeof(T), 1);
  const int64_t items = bl.count * g.G, wsize = g.Cout * g.K;
  if (g.N == 0) {
    std::fill(dw, dw + wsize, T(0));
    return;
  }
  std::unique_ptr<T[]> partial = bl.count > 1 ? scratch<T>(bl.count * wsize) : nullptr;
  parallel_for(0, items, 1, [&](int64_t i0, int64_t i1) {
    std::unique_ptr<T[]> col, gbuf;
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t b = item / g.G, gr = item % g.G;
      const int64_t n0 = bl.begin(b, g.N), n1 = bl.begin(b + 1, g.N), nb = n1 - n0, ld = nb * g.P;
      const T* xg = x + (n0 * g.C + gr * g.Cg) * g.H * g.W;
      const T* G = gather_gy(g, gy + (n0 * g.Cout + gr * g.Og) * g.P, nb, gbuf, bl.per * g.P);
      const T* B = xg;
      if (!(g.pointwise && nb == 1)) {
        if (!col) col = scratch<T>(g.K * bl.per * g.P);
        for (int64_t n = 0; n < nb; ++n) im2col(xg + n * g.C * g.H * g.W, col.get() + n * g.P, ld, g);
        B = col.get();
      }
      T* acc = (partial ? partial.get() + b * wsize : dw) + gr * g.Og * g.K;
      // dw_g (Og, K) = G (Og, nb*P) @ col^T (nb*P, K) for this block
      gemm_call<T>(g.Og, g.K, ld, G, ld, 1, B, 1, ld, acc, g.K, 0.0f, nullptr, false);
    }
  });
  if (!partial) return;
  // Sum the block partials in block order (Note [Deterministic weight gradient]).
  parallel_for(0, wsize, 4096, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      T total = T(0);
      for (int64_t b = 0; b < bl.count; ++b) total += partial[b * wsize + k];
      dw[k] = total;
    }
  });
}

// ---- depthwise (C/G == 1): direct loops (conv_depthwise_impl.h) -----------------------
#include "cpu/conv_depthwise_impl.h"

// float32 runs the copy compiled for the active ISA (auto-vectorised over output columns);
// on AVX-512 / AVX2 with sw 1 or 2, the register-accumulator kernels
// (conv_depthwise_fast_impl.h).
struct DepthwiseFns {
  DepthwiseForwardFn forward;
  DepthwiseBackwardInputFn backward_input;
  DepthwiseBackwardWeightFn backward_weight;
};
template <typename T>
DepthwiseFns depthwise_fns(const ConvGeom& g) {
  if constexpr (std::is_same_v<T, float>) {
#ifdef NN_CORE_X86
    if (active_isa() == Isa::Avx512 && (g.sw == 1 || g.sw == 2))
      return {depthwise_forward_fast_avx512, depthwise_backward_input_fast_avx512, depthwise_backward_weight_fast_avx512};
    if (active_isa() == Isa::Avx512)
      return {depthwise_forward_avx512, depthwise_backward_input_avx512, depthwise_backward_weight_avx512};
    if (active_isa() == Isa::Avx2 && (g.sw == 1 || g.sw == 2))
      return {depthwise_forward_fast_avx2, depthwise_backward_input_fast_avx2, depthwise_backward_weight_fast_avx2};
    if (active_isa() == Isa::Avx2)
      return {depthwise_forward_avx2, depthwise_backward_input_avx2, depthwise_backward_weight_avx2};
#endif
    (void)g;
    return {dw_forward_range<float>, dw_backward_input_range<float>, dw_backward_weight_range<float>};
  }
  (void)g;
  return {};
}

template <typename T>
void forward_depthwise(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu) {
  const DepthwiseFns f = depthwise_fns<T>(g);
  parallel_for(0, g.N * g.Cout, 1, [&](int64_t i0, int64_t i1) {
    if constexpr (std::is_same_v<T, float>) f.forward(g, x, w, bias, y, relu, i0, i1);
    else dw_forward_range<T>(g, x, w, bias, y, relu, i0, i1);
  });
}

template <typename T>
void backward_input_depthwise(const ConvGeom& g, const T* gy, const T* w, T* dx) {
#ifdef NN_CORE_X86
  if constexpr (std::is_same_v<T, float>) {
    // Stride 1, multiplier 1: the forward kernel on gy with the flipped taps (Note [Input
    // gradient as a conv], conv_gemm.cpp).
    if (active_isa() != Isa::Generic && g.sh == 1 && g.sw == 1 && g.Og == 1) {
      ConvGeom t = g;
      t.H = g.OH;
      t.W = g.OW;
      t.OH = g.H;
      t.OW = g.W;
      t.P = g.H * g.W;
      t.ph = g.dh * (g.kh - 1) - g.ph;
      t.pw = g.dw * (g.kw - 1) - g.pw;
      const int64_t taps = g.kh * g.kw;
      std::vector<float> wf(static_cast<size_t>(g.C * taps));
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t r = 0; r < taps; ++r) wf[c * taps + taps - 1 - r] = w[c * taps + r];
      const DepthwiseForwardFn fwd = active_isa() == Isa::Avx512 ? depthwise_forward_fast_avx512 : depthwise_forward_fast_avx2;
      parallel_for(0, g.N * g.C, 1, [&](int64_t i0, int64_t i1) { fwd(t, gy, wf.data(), nullptr, dx, false, i0, i1); });
      return;
    }
  }
#endif
  const DepthwiseFns f = depthwise_fns<T>(g);
  parallel_for(0, g.N * g.C, 1, [&](int64_t i0, int64_t i1) {
    if constexpr (std::is_same_v<T, float>) f.backward_input(g, gy, w, dx, i0, i1);
    else dw_backward_input_range<T>(g, gy, w, dx, i0, i1);
  });
}

template <typename T>
void backward_weight_depthwise(const ConvGeom& g, const T* x, const T* gy, T* dw) {
  const DepthwiseFns f = depthwise_fns<T>(g);
  parallel_for(0, g.Cout, 1, [&](int64_t c0, int64_t c1) {
    if constexpr (std::is_same_v<T, float>) f.backward_weight(g, x, gy, dw, c0, c1);
    else dw_backward_weight_range<T>(g, x, gy, dw, c0, c1);
  });
}

// ---- entry points (dispatch.h contracts) ------------------------------------------------

void conv_forward_kernel(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y, const Conv2dParams& p,
                         bool relu) {
  const ConvGeom g = conv_geom(x, w, y, p);
  if (y.numel() == 0) return;
  dispatch_float_dtype(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* b = bias.defined() ? bias.data<T>() : nullptr;
    if (g.K == 0) {  // no input channels: the output is the bias
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t c = 0; c < g.Cout; ++c) {
          T v = b ? b[c] : T(0);
          if (relu && !(v > T(0))) v = T(0);
          std::fill(y.data<T>() + (n * g.Cout + c) * g.P, y.data<T>() + (n * g.Cout + c + 1) * g.P, v);
        }
      return;
    }
    if (g.Cg == 1 && g.G > 1)
      forward_depthwise<T>(g, x.data<T>(), w.data<T>(), b, y.data<T>(), relu);
    else if constexpr (std::is_same_v<T, float>)
      conv2d_forward_implicit(g, x.data<float>(), w.data<float>(), b, y.data<float>(), relu);
    else
      forward_gemm<T>(g, x.data<T>(), w.data<T>(), b, y.data<T>(), relu);
  });
}

void conv_backward_input_kernel(const Tensor& gy, const Tensor& w, const Tensor& dx, const Conv2dParams& p) {
  const ConvGeom g = conv_geom(dx, w, gy, p);
  if (dx.numel() == 0) return;
  dispatch_float_dtype(dx.dtype(), "conv2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (g.P == 0 || g.Og == 0) {
      std::fill(dx.data<T>(), dx.data<T>() + dx.numel(), T(0));
    } else if (g.Cg == 1 && g.G > 1) {
      backward_input_depthwise<T>(g, gy.data<T>(), w.data<T>(), dx.data<T>());
    } else if (std::is_same_v<T, float> && g.sh == 1 && g.sw == 1) {
      conv2d_backward_input_implicit(g, reinterpret_cast<const float*>(gy.data<T>()),
                                     reinterpret_cast<const float*>(w.data<T>()), reinterpret_cast<float*>(dx.data<T>()));
    } else {
      backward_input_gemm<T>(g, gy.data<T>(), w.data<T>(), dx.data<T>());
    }
  });
}

void conv_backward_weight_kernel(const Tensor& x, const Tensor& gy, const Tensor& dw, const Conv2dParams& p) {
  const ConvGeom g = conv_geom(x, dw, gy, p);
  if (dw.numel() == 0) return;
  dispatch_float_dtype(dw.dtype(), "conv2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (g.P == 0 || g.N == 0) {
      std::fill(dw.data<T>(), dw.data<T>() + dw.numel(), T(0));
    } else if (g.Cg == 1 && g.G > 1) {
      backward_weight_depthwise<T>(g, x.data<T>(), gy.data<T>(), dw.data<T>());
    } else if (std::is_same_v<T, float> && conv_weight_grad_implicit_pays(g)) {
      conv2d_backward_weight_implicit(g, reinterpret_cast<const float*>(x.data<T>()),
                                      reinterpret_cast<const float*>(gy.data<T>()), reinterpret_cast<float*>(dw.data<T>()));
    } else {
      backward_weight_gemm<T>(g, x.data<T>(), gy.data<T>(), dw.data<T>());
    }
  });
}

}  // namespace

void register_conv_kernels(KernelRegistry& r) {
  for (OpId op : {OpId::conv2d, OpId::conv1d, OpId::conv_transpose2d}) {
    r.conv_forward.set(op, DeviceType::CPU, &conv_forward_kernel);
    r.conv_backward_input.set(op, DeviceType::CPU, &conv_backward_input_kernel);
    r.conv_backward_weight.set(op, DeviceType::CPU, &conv_backward_weight_kernel);
  }
}

}  // namespace nn::cpu
