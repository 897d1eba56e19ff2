// conv_ref.cpp — the direct nested-loop references for 2-D convolution (STYLE.md 6):
// one output element at a time, float64 accumulation, single-threaded. The im2col +
// GEMM and depthwise kernels of conv_kernels.cpp are compared against these in
// tests/test_conv.py. Layout as in conv_kernels.h.
#include "cpu/conv_kernels.h"
#include "cpu/dtype_dispatch.h"

namespace nn::cpu {

void conv2d_reference(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y, const Conv2dParams& p) {
  const ConvGeom g = conv_geom(x, w, y, p);
  dispatch_float_dtype(x.dtype(), "conv2d_reference", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    const T* pw = w.data<T>();
    T* py = y.data<T>();
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t co = 0; co < g.Cout; ++co) {
        const int64_t gr = co / g.Og;
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            double acc = bias.defined() ? static_cast<double>(bias.data<T>()[co]) : 0.0;
            for (int64_t c = 0; c < g.Cg; ++c)
              for (int64_t i = 0; i < g.kh; ++i)
                for (int64_t j = 0; j < g.kw; ++j) {
                  const int64_t ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
                  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                  acc += static_cast<double>(px[((n * g.C + gr * g.Cg + c) * g.H + ih) * g.W + iw]) *
                         static_cast<double>(pw[((co * g.Cg + c) * g.kh + i) * g.kw + j]);
                }
            py[((n * g.Cout + co) * g.OH + oh) * g.OW + ow] = static_cast<T>(acc);
          }
      }
  });
}

void conv2d_backward_reference(const Tensor& x, const Tensor& w, const Tensor& gy, const Tensor& dx, const Tensor& dw,
                               const Conv2dParams& p) {
  const ConvGeom g = conv_geom(x, w, gy, p);
  dispatch_float_dtype(x.dtype(), "conv2d_backward_reference", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    const T* pw = w.data<T>();
    const T* pg = gy.data<T>();
    // dx[n, ci, ih, iw] = sum over (co, i, j) whose window covers (ih, iw)
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t ci = 0; ci < g.C; ++ci) {
        const int64_t gr = ci / g.Cg, c = ci % g.Cg;
        for (int64_t ih = 0; ih < g.H; ++ih)
          for (int64_t iw = 0; iw < g.W; ++iw) {
            double acc = 0.0;
            for (int64_t o = 0; o < g.Og; ++o)
              for (int64_t i = 0; i < g.kh; ++i)
                for (int64_t j = 0; j < g.kw; ++j) {
                  const int64_t th = ih + g.ph - i * g.dh, tw = iw + g.pw - j * g.dw;
                  if (th < 0 || tw < 0 || th % g.sh || tw % g.sw) continue;
                  const int64_t oh = th / g.sh, ow = tw / g.sw;
                  if (oh >= g.OH || ow >= g.OW) continue;
                  const int64_t co = gr * g.Og + o;
                  acc += static_cast<double>(pg[((n * g.Cout + co) * g.OH + oh) * g.OW + ow]) *
                         static_cast<double>(pw[((co * g.Cg + c) * g.kh + i) * g.kw + j]);
                }
            dx.data<T>()[((n * g.C + ci) * g.H + ih) * g.W + iw] = static_cast<T>(acc);
          }
      }
    // dw[co, c, i, j] = sum over (n, oh, ow) of gy * the input pixel under tap (i, j)
    for (int64_t co = 0; co < g.Cout; ++co) {
      const int64_t gr = co / g.Og;
      for (int64_t c = 0; c < g.Cg; ++c)
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) {
            double acc = 0.0;
            for (int64_t n = 0; n < g.N; ++n)
              for (int64_t oh = 0; oh < g.OH; ++oh)
                for (int64_t ow = 0; ow < g.OW; ++ow) {
                  const int64_t ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
                  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                  acc += static_cast<double>(pg[((n * g.Cout + co) * g.OH + oh) * g.OW + ow]) *
                         static_cast<double>(px[((n * g.C + gr * g.Cg + c) * g.H + ih) * g.W + iw]);
                }
            dw.data<T>()[((co * g.Cg + c) * g.kh + i) * g.kw + j] = static_cast<T>(acc);
          }
    }
  });
}

}  // namespace nn::cpu
