// pool_kernels.cpp — max_pool2d (with indices), avg_pool2d and adaptive_avg_pool2d,
// forward and backward, as direct loops over each (n, c) plane (these loops are their
// own reference; tests/op_db_conv.py compares them with NumPy in float64).
//
// Layout: x (N, C, H, W) and y (N, C, OH, OW) contiguous; max-pool indices are int64
// flat positions ih*W + iw in the input plane (PyTorch's convention). Window of output
// (oh, ow): rows oh*sh - ph + i*dh for i < kh (likewise columns); positions outside
// the input are skipped (max) or count as zeros (avg with count_include_pad).
// Threads: parallel_for over the N*C planes.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/parallel.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

struct Planes {
  int64_t NC, H, W, OH, OW;
};
Planes planes(const Tensor& x, const Tensor& y) {
  return {x.sizes()[0] * x.sizes()[1], x.sizes()[2], x.sizes()[3], y.sizes()[2], y.sizes()[3]};
}

void max_pool_kernel(const Tensor& x, const Tensor& y, const Tensor& idx, const Pool2dParams& p) {
  const Planes s = planes(x, y);
  dispatch_float_dtype(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    parallel_for(0, s.NC, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const T* xp = x.data<T>() + pl * s.H * s.W;
        T* yp = y.data<T>() + pl * s.OH * s.OW;
        int64_t* ip = idx.data<int64_t>() + pl * s.OH * s.OW;
        for (int64_t oh = 0; oh < s.OH; ++oh)
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            T best = -std::numeric_limits<T>::infinity();
            int64_t at = -1;
            for (int64_t i = 0; i < p.kernel[0]; ++i) {
              const int64_t ih = oh * p.stride[0] - p.padding[0] + i * p.dilation[0];
              if (ih < 0 || ih >= s.H) continue;
              for (int64_t j = 0; j < p.kernel[1]; ++j) {
                const int64_t iw = ow * p.stride[1] - p.padding[1] + j * p.dilation[1];
                if (iw < 0 || iw >= s.W) continue;
                const T v = xp[ih * s.W + iw];
                if (at < 0 || v > best || std::isnan(v)) {  // NaN propagates, as in PyTorch
                  best = v;
                  at = ih * s.W + iw;
                }
              }
            }
            yp[oh * s.OW + ow] = best;
            ip[oh * s.OW + ow] = std::max<int64_t>(at, 0);
          }
      }
    });
  });
}

void max_pool_backward_kernel(const Tensor& gy, const Tensor& idx, const Tensor& dx, const Pool2dParams&) {
  const Planes s = planes(dx, gy);
  dispatch_float_dtype(dx.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    parallel_for(0, s.NC, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        T* dp = dx.data<T>() + pl * s.H * s.W;
        const T* gp = gy.data<T>() + pl * s.OH * s.OW;
        const int64_t* ip = idx.data<int64_t>() + pl * s.OH * s.OW;
        std::fill(dp, dp + s.H * s.W, T(0));
        for (int64_t k = 0; k < s.OH * s.OW; ++k) dp[ip[k]] += gp[k];
      }
    });
  });
}

// One avg-pool window: its clipped bounds and the divisor (PyTorch's rules: with
// count_include_pad the window is clipped to the padded input, else to the input).
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  double divisor;
};
AvgWindow avg_window(int64_t oh, int64_t ow, int64_t H, int64_t W, const Pool2dParams& p) {
  int64_t h0 = oh * p.stride[0] - p.padding[0], w0 = ow * p.stride[1] - p.padding[1];
  int64_t h1 = std::min(h0 + p.kernel[0], H + p.padding[0]), w1 = std::min(w0 + p.kernel[1], W + p.padding[1]);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, H);
  w1 = std::min(w1, W);
  double div = p.divisor_override ? static_cast<double>(p.divisor_override)
               : p.count_include_pad ? static_cast<double>(padded)
                                     : static_cast<double>((h1 - h0) * (w1 - w0));
  return {h0, h1, w0, w1, div};
}

void avg_pool_kernel(const Tensor& x, const Tensor& y, const Tensor&, const Pool2dParams& p) {
  const Planes s = planes(x, y);
  dispatch_float_dtype(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    parallel_for(0, s.NC, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const T* xp = x.data<T>() + pl * s.H * s.W;
        T* yp = y.data<T>() + pl * s.OH * s.OW;
        for (int64_t oh = 0; oh < s.OH; ++oh)
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            const AvgWindow w = avg_window(oh, ow, s.H, s.W, p);
            double acc = 0.0;
            for (int64_t ih = w.h0; ih < w.h1; ++ih)
              for (int64_t iw = w.w0; iw < w.w1; ++iw) acc += xp[ih * s.W + iw];
            yp[oh * s.OW + ow] = static_cast<T>(acc / w.divisor);
          }
      }
    });
  });
}

void avg_pool_backward_kernel(const Tensor& gy, const Tensor&, const Tensor& dx, const Pool2dParams& p) {
  const Planes s = planes(dx, gy);
  dispatch_float_dtype(dx.dtype(), "avg_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    parallel_for(0, s.NC, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        T* dp = dx.data<T>() + pl * s.H * s.W;
        const T* gp = gy.data<T>() + pl * s.OH * s.OW;
        std::fill(dp, dp + s.H * s.W, T(0));
        for (int64_t oh = 0; oh < s.OH; ++oh)
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            const AvgWindow w = avg_window(oh, ow, s.H, s.W, p);
            const T v = static_cast<T>(gp[oh * s.OW + ow] / w.divisor);
            for (int64_t ih = w.h0; ih < w.h1; ++ih)
              for (int64_t iw = w.w0; iw < w.w1; ++iw) dp[ih * s.W + iw] += v;
          }
      }
    });
  });
}

// Adaptive window of output o over an input of n: [floor(o*n/on), ceil((o+1)*n/on)).
inline int64_t a_start(int64_t o, int64_t n, int64_t on) { return o * n / on; }
inline int64_t a_end(int64_t o, int64_t n, int64_t on) { return ((o + 1) * n + on - 1) / on; }

void adaptive_avg_kernel(const Tensor& x, const Tensor& y, const Tensor&, const Pool2dParams&) {
  const Planes s = planes(x, y);
  dispatch_float_dtype(x.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    parallel_for(0, s.NC, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const T* xp = x.data<T>() + pl * s.H * s.W;
        T* yp = y.data<T>() + pl * s.OH * s.OW;
        for (int64_t oh = 0; oh < s.OH; ++oh)
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            const int64_t h0 = a_start(oh, s.H, s.OH), h1 = a_end(oh, s.H, s.OH);
            const int64_t w0 = a_start(ow, s.W, s.OW), w1 = a_end(ow, s.W, s.OW);
            double acc = 0.0;
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) acc += xp[ih * s.W + iw];
            yp[oh * s.OW + ow] = static_cast<T>(acc / static_cast<double>((h1 - h0) * (w1 - w0)));
          }
      }
    });
  });
}

void adaptive_avg_backward_kernel(const Tensor& gy, const Tensor&, const Tensor& dx, const Pool2dParams&) {
  const Planes s = planes(dx, gy);
  dispatch_float_dtype(dx.dtype(), "adaptive_avg_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    parallel_for(0, s.NC, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        T* dp = dx.data<T>() + pl * s.H * s.W;
        const T* gp = gy.data<T>() + pl * s.OH * s.OW;
        std::fill(dp, dp + s.H * s.W, T(0));
        for (int64_t oh = 0; oh < s.OH; ++oh)
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            const int64_t h0 = a_start(oh, s.H, s.OH), h1 = a_end(oh, s.H, s.OH);
            const int64_t w0 = a_start(ow, s.W, s.OW), w1 = a_end(ow, s.W, s.OW);
            const T v = static_cast<T>(gp[oh * s.OW + ow] / static_cast<double>((h1 - h0) * (w1 - w0)));
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) dp[ih * s.W + iw] += v;
          }
      }
    });
  });
}

}  // namespace

void register_pool_kernels(KernelRegistry& r) {
  r.pool.set(OpId::max_pool2d, DeviceType::CPU, &max_pool_kernel);
  r.pool_backward.set(OpId::max_pool2d, DeviceType::CPU, &max_pool_backward_kernel);
  r.pool.set(OpId::avg_pool2d, DeviceType::CPU, &avg_pool_kernel);
  r.pool_backward.set(OpId::avg_pool2d, DeviceType::CPU, &avg_pool_backward_kernel);
  r.pool.set(OpId::adaptive_avg_pool2d, DeviceType::CPU, &adaptive_avg_kernel);
  r.pool_backward.set(OpId::adaptive_avg_pool2d, DeviceType::CPU, &adaptive_avg_backward_kernel);
}

}  // namespace nn::cpu
