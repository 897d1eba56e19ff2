// layer_norm_kernels.cpp — fused layer_norm / rms_norm (forward and backward) and dropout
// kernels, float32 and float64 (contracts: LayerNormKernel, LayerNormBackwardKernel, DropoutKernel
// in kernels/dispatch.h).
//
// Layout: x is (R, N) contiguous, normalised along N; weight and bias are (N).
// Forward (one pass over a row for the statistics, one for the output):
//   layer norm: mean = sum(x)/N, var = sum((x-mean)^2)/N, rstd = 1/sqrt(var + eps),
//               y = (x - mean) * rstd * w + b
//   rms norm:   rstd = 1/sqrt(sum(x^2)/N + eps),  y = x * rstd * w
// Backward with xhat = (x - mean) * rstd (rms: x * rstd) and gw = g * w:
//   layer norm: dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))
//   rms norm:   dx = rstd * (gw - xhat * mean(gw * xhat))
//   dw = sum_rows(g * xhat), db = sum_rows(g)
// Statistics accumulate in double for float32 rows (8 partial sums per row, row_sum). dw/db are summed per thread chunk
// and then added in chunk order (deterministic for a given thread count).
//
// Dropout: Note [Dropout counters] — element i of the contiguous tensor is kept when word
// i % 4 of philox(counter = offset + i / 4, key = seed) is >= p * 2^32, and scaled by
// 1/(1-p); the backward regenerates the mask from (seed, offset).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "core/random.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

constexpr int64_t kRowGrain = 16;

// sum(x - shift) or sum((x - shift)^2) over a row, in double with kLanes independent
// partial sums (added pairwise at the end): one dependent chain of double adds per row cost
// ~4 cycles an element; independent lanes let the adds overlap and vectorise.
template <typename T>
double row_sum(const T* x, int64_t n, double shift, bool squares) {
  constexpr int kLanes = 8;
  double acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const double c = static_cast<double>(x[j + l]) - shift;
      acc[l] += squares ? c * c : c;
    }
  for (int l = 0; j < n; ++j, ++l) {
    const double c = static_cast<double>(x[j]) - shift;
    acc[l] += squares ? c * c : c;
  }
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
  return acc[0];
}

template <typename T>
void norm_forward_impl(const Tensor& x, const Tensor& w, const Tensor& bias, double eps, bool rms, const Tensor& y,
                       const Tensor& mean, const Tensor& rstd) {
  const int64_t N = x.sizes().back(), R = N == 0 ? 0 : x.numel() / N;
  const T* X = x.data<T>();
  const T* W = w.defined() ? w.data<T>() : nullptr;
  const T* Bb = bias.defined() ? bias.data<T>() : nullptr;
  T* Y = y.data<T>();
  T* MEAN = mean.defined() ? mean.data<T>() : nullptr;
  T* RSTD = rstd.data<T>();
  parallel_for(0, R, kRowGrain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = X + r * N;
      T* yr = Y + r * N;
      const double mu = rms ? 0.0 : row_sum(xr, N, 0.0, false) / static_cast<double>(N);
      const double ss = row_sum(xr, N, mu, true);
      const double rs = 1.0 / std::sqrt(ss / static_cast<double>(N) + eps);
      const T m = static_cast<T>(mu), s = static_cast<T>(rs);
      for (int64_t j = 0; j < N; ++j) {
        T v = (xr[j] - m) * s;
        if (W) v *= W[j];
        if (Bb) v += Bb[j];
        yr[j] = v;
      }
      if (MEAN) MEAN[r] = m;
      RSTD[r] = s;
    }
  });
}

template <typename T>
void norm_backward_impl(const Tensor& g, const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd,
                        bool rms, const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  const int64_t N = x.sizes().back(), R = N == 0 ? 0 : x.numel() / N;
  const T* G = g.data<T>();
  const T* X = x.data<T>();
  const T* W = w.defined() ? w.data<T>() : nullptr;
  const T* MEAN = mean.defined() ? mean.data<T>() : nullptr;
  const T* RSTD = rstd.data<T>();
  T* GX = gx.data<T>();
  const bool want_w = gw.defined(), want_b = gb.defined();
  const int64_t chunks = std::max<int64_t>(parallel_chunks(0, R, kRowGrain), 1);
  std::vector<double> part_w(want_w ? chunks * N : 0, 0.0), part_b(want_b ? chunks * N : 0, 0.0);
  parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
   for (int64_t c = c0; c < c1; ++c) {
    const int64_t r0 = R * c / chunks, r1 = R * (c + 1) / chunks;
    double* pw = want_w ? part_w.data() + c * N : nullptr;
    double* pb = want_b ? part_b.data() + c * N : nullptr;
    for (int64_t r = r0; r < r1; ++r) {
      const T* gr = G + r * N;
      const T* xr = X + r * N;
      T* gxr = GX + r * N;
      const double m = MEAN ? static_cast<double>(MEAN[r]) : 0.0, s = RSTD[r];
      double sum_gw = 0, sum_gwx = 0;
      for (int64_t j = 0; j < N; ++j) {
        const double xh = (xr[j] - m) * s;
        const double gwj = static_cast<double>(gr[j]) * (W ? static_cast<double>(W[j]) : 1.0);
        sum_gw += gwj;
        sum_gwx += gwj * xh;
        if (pw) pw[j] += static_cast<double>(gr[j]) * xh;
        if (pb) pb[j] += gr[j];
      }
      const double a = sum_gwx / static_cast<double>(N), b = rms ? 0.0 : sum_gw / static_cast<double>(N);
      for (int64_t j = 0; j < N; ++j) {
        const double xh = (xr[j] - m) * s;
        const double gwj = static_cast<double>(gr[j]) * (W ? static_cast<double>(W[j]) : 1.0);
        gxr[j] = static_cast<T>(s * (gwj - b - xh * a));
      }
    }
   }
  });
  auto finish = [&](const std::vector<double>& parts, const Tensor& out) {
    T* o = out.data<T>();
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t c = 0; c < chunks; ++c) acc += parts[c * N + j];
      o[j] = static_cast<T>(acc);
    }
  };
  if (want_w) finish(part_w, gw);
  if (want_b) finish(part_b, gb);
}

void norm_forward(const Tensor& x, const Tensor& w, const Tensor& b, double eps, bool rms, const Tensor& y,
                  const Tensor& mean, const Tensor& rstd) {
  dispatch_float_dtype(x.dtype(), rms ? "rms_norm" : "layer_norm", [&](auto tag) {
    norm_forward_impl<typename decltype(tag)::type>(x, w, b, eps, rms, y, mean, rstd);
  });
}

void norm_backward(const Tensor& g, const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd,
                   bool rms, const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  dispatch_float_dtype(x.dtype(), rms ? "rms_norm" : "layer_norm", [&](auto tag) {
    norm_backward_impl<typename decltype(tag)::type>(g, x, w, mean, rstd, rms, gx, gw, gb);
  });
}

void dropout_kernel(const Tensor& in, const Tensor& out, double p, uint64_t seed, uint64_t offset) {
  dispatch_float_dtype(in.dtype(), "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* X = in.data<T>();
    T* Y = out.data<T>();
    const uint64_t threshold = static_cast<uint64_t>(p * 4294967296.0);
    const T keep = p >= 1 ? T(0) : static_cast<T>(1.0 / (1.0 - p));
    // chunks start at multiples of 4 so each philox block is drawn once
    const int64_t n = in.numel(), blocks = (n + 3) / 4;
    parallel_for(0, blocks, 4096, [&](int64_t b0, int64_t b1) {
      for (int64_t blk = b0; blk < b1; ++blk) {
        const auto r = philox4x32_10(offset + static_cast<uint64_t>(blk), seed);
        for (int64_t w = 0; w < 4 && blk * 4 + w < n; ++w) {
          const int64_t i = blk * 4 + w;
          Y[i] = r[w] >= threshold ? X[i] * keep : T(0);
        }
      }
    });
  });
}

}  // namespace

void register_layer_norm_kernels(KernelRegistry& r) {
  r.layer_norm.set(OpId::layer_norm, DeviceType::CPU, &norm_forward);
  r.layer_norm.set(OpId::rms_norm, DeviceType::CPU, &norm_forward);
  r.layer_norm_backward.set(OpId::layer_norm, DeviceType::CPU, &norm_backward);
  r.layer_norm_backward.set(OpId::rms_norm, DeviceType::CPU, &norm_backward);
  r.dropout.set(OpId::dropout, DeviceType::CPU, &dropout_kernel);
}

}  // namespace nn::cpu
