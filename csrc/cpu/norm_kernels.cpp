// norm_kernels.cpp — batch_norm and group_norm: statistics, the normalisation with the
// per-channel affine, and the backward, as direct loops with float64 accumulation (the
// loops are their own reference; tests compare them with NumPy in float64).
//
// Layout: x, y, g, dx (N, C, S) contiguous (S = product of the spatial dims).
// Statistics: batch_norm (groups == 0) per channel c over (N, S): mean[c], rstd[c];
// group_norm per (n, group) over (C/groups, S): mean[n*groups + k]. For element
// (n, c, s) the statistic index is stat(n, c) below. rstd = 1/sqrt(var + eps).
// Backward (Note [Norm backward]), with xhat = (x - mean) * rstd and, over the M
// elements sharing one statistic, means <.>:
//   batch stats:  dx = rstd * (gw - <gw> - xhat * <gw * xhat>),  gw = g * w[c]
//   fixed stats:  dx = rstd * gw   (batch_norm in eval mode)
//   dw[c] = sum g * xhat,  db[c] = sum g   (over n and s)
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

struct NormGeom {
  int64_t N, C, S, groups, Cg;
  int64_t stat(int64_t n, int64_t c) const { return groups == 0 ? c : n * groups + c / Cg; }
};
NormGeom norm_geom(const Tensor& x, int64_t groups) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1];
  const int64_t S = N * C == 0 ? 0 : x.numel() / (N * C);
  return {N, C, S, groups, groups ? C / groups : 1};
}

void norm_stats_kernel(const Tensor& x, const Tensor& mean, const Tensor& var, int64_t groups) {
  const NormGeom g = norm_geom(x, groups);
  dispatch_float_dtype(x.dtype(), "norm statistics", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* pm = mean.data<T>();
    T* pv = var.data<T>();
    if (groups == 0) {  // per channel over (N, S): two passes, float64
      parallel_for(0, g.C, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          double sum = 0.0;
          for (int64_t n = 0; n < g.N; ++n) {
            const T* row = px + (n * g.C + c) * g.S;
            for (int64_t s = 0; s < g.S; ++s) sum += row[s];
          }
          const double count = static_cast<double>(g.N * g.S), m = count > 0 ? sum / count : 0.0;
          double sq = 0.0;
          for (int64_t n = 0; n < g.N; ++n) {
            const T* row = px + (n * g.C + c) * g.S;
            for (int64_t s = 0; s < g.S; ++s) sq += (row[s] - m) * (row[s] - m);
          }
          pm[c] = static_cast<T>(m);
          pv[c] = static_cast<T>(count > 0 ? sq / count : 0.0);
        }
      });
      return;
    }
    const int64_t block = g.Cg * g.S;  // a group's elements are contiguous
    parallel_for(0, g.N * groups, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const T* p = px + i * block;
        double sum = 0.0;
        for (int64_t k = 0; k < block; ++k) sum += p[k];
        const double m = block > 0 ? sum / static_cast<double>(block) : 0.0;
        double sq = 0.0;
        for (int64_t k = 0; k < block; ++k) sq += (p[k] - m) * (p[k] - m);
        pm[i] = static_cast<T>(m);
        pv[i] = static_cast<T>(block > 0 ? sq / static_cast<double>(block) : 0.0);
      }
    });
  });
}

void norm_apply_kernel(const Tensor& x, const Tensor& mean, const Tensor& rstd, const Tensor& w, const Tensor& b,
                       const Tensor& y, int64_t groups) {
  const NormGeom g = norm_geom(x, groups);
  dispatch_float_dtype(x.dtype(), "norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pw = w.defined() ? w.data<T>() : nullptr;
    const T* pb = b.defined() ? b.data<T>() : nullptr;
    parallel_for(0, g.N * g.C, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t n = i / g.C, c = i % g.C, st = g.stat(n, c);
        const T scale = rstd.data<T>()[st] * (pw ? pw[c] : T(1));
        const T shift = (pb ? pb[c] : T(0)) - mean.data<T>()[st] * scale;
        const T* xr = x.data<T>() + i * g.S;
        T* yr = y.data<T>() + i * g.S;
        for (int64_t s = 0; s < g.S; ++s) yr[s] = xr[s] * scale + shift;
      }
    });
  });
}

void norm_backward_kernel(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& rstd, const Tensor& w,
                          const Tensor& dx, const Tensor& dw, const Tensor& db, int64_t groups,
                          bool stats_from_batch) {
  const NormGeom g = norm_geom(x, groups);
  dispatch_float_dtype(x.dtype(), "norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pw = w.defined() ? w.data<T>() : nullptr;
    const T* pm = mean.data<T>();
    const T* pr = rstd.data<T>();
    // Per (n, c): sum g and sum g * xhat.
    std::vector<double> sg(static_cast<size_t>(g.N * g.C)), sgx(static_cast<size_t>(g.N * g.C));
    parallel_for(0, g.N * g.C, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t st = g.stat(i / g.C, i % g.C);
        const double m = pm[st], r = pr[st];
        const T* gr = gy.data<T>() + i * g.S;
        const T* xr = x.data<T>() + i * g.S;
        double a = 0.0, bsum = 0.0;
        for (int64_t s = 0; s < g.S; ++s) {
          a += gr[s];
          bsum += gr[s] * ((xr[s] - m) * r);
        }
        sg[i] = a;
        sgx[i] = bsum;
      }
    });
    if (dw.defined() || db.defined()) {
      for (int64_t c = 0; c < g.C; ++c) {
        double a = 0.0, bsum = 0.0;
        for (int64_t n = 0; n < g.N; ++n) {
          a += sg[n * g.C + c];
          bsum += sgx[n * g.C + c];
        }
        if (dw.defined()) dw.data<T>()[c] = static_cast<T>(bsum);
        if (db.defined()) db.data<T>()[c] = static_cast<T>(a);
      }
    }
    if (!dx.defined()) return;
    // <gw> and <gw * xhat> per statistic.
    const int64_t nstat = groups == 0 ? g.C : g.N * groups;
    std::vector<double> mg(static_cast<size_t>(nstat), 0.0), mgx(static_cast<size_t>(nstat), 0.0);
    if (stats_from_batch) {
      const double count = static_cast<double>(groups == 0 ? g.N * g.S : g.Cg * g.S);
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t c = 0; c < g.C; ++c) {
          const double wc = pw ? pw[c] : 1.0;
          mg[g.stat(n, c)] += wc * sg[n * g.C + c] / count;
          mgx[g.stat(n, c)] += wc * sgx[n * g.C + c] / count;
        }
    }
    parallel_for(0, g.N * g.C, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t c = i % g.C, st = g.stat(i / g.C, c);
        const double m = pm[st], r = pr[st], wc = pw ? pw[c] : 1.0;
        const T* gr = gy.data<T>() + i * g.S;
        const T* xr = x.data<T>() + i * g.S;
        T* dr = dx.data<T>() + i * g.S;
        if (!stats_from_batch) {
          const T k = static_cast<T>(r * wc);
          for (int64_t s = 0; s < g.S; ++s) dr[s] = gr[s] * k;
          continue;
        }
        const double a = mg[st], bb = mgx[st];
        for (int64_t s = 0; s < g.S; ++s) {
          const double xhat = (xr[s] - m) * r;
          dr[s] = static_cast<T>(r * (wc * gr[s] - a - xhat * bb));
        }
      }
    });
  });
}

}  // namespace

void register_norm_kernels(KernelRegistry& r) {
  for (OpId op : {OpId::batch_norm, OpId::group_norm}) {
    r.norm_stats.set(op, DeviceType::CPU, &norm_stats_kernel);
    r.norm_apply.set(op, DeviceType::CPU, &norm_apply_kernel);
    r.norm_backward.set(op, DeviceType::CPU, &norm_backward_kernel);
  }
}

}  // namespace nn::cpu
