// scan_sort_kernels.cpp — CPU kernels of the scans (cumsum, cumprod and cumprod's
// backward) and of sorting (sort, argsort, topk), one row of a contiguous (R, N) layout
// at a time; rows are split between threads, which does not change any result.
//
// Sorting uses one total order so that the result is unique (and so stable for every
// algorithm): NaN is above every number (PyTorch's rule), and equal values keep their
// index order (the lower index first) in both directions.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/parallel.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

int64_t row_grain(int64_t n) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)); }

// Floats accumulate in double (as PyTorch's CPU scans), integers in their own type.
template <typename T>
using Accumulator = std::conditional_t<std::is_floating_point_v<T>, double, T>;

void scan(OpId op, const Tensor& in, const Tensor& out) {
  const int64_t R = in.sizes()[0], N = in.sizes()[1];
  const bool product = op == OpId::cumprod;
  dispatch_compute_dtype(in.dtype(), op_info(op).name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = Accumulator<T>;
    const T* x = in.data<T>();
    T* y = out.data<T>();
    parallel_for(0, R, row_grain(N), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        A acc = product ? A(1) : A(0);
        for (int64_t i = 0; i < N; ++i) {
          if constexpr (std::is_same_v<T, bool>) {
            acc = product ? (acc && x[r * N + i]) : (acc || x[r * N + i]);
          } else {
            acc = product ? static_cast<A>(acc * static_cast<A>(x[r * N + i]))
                          : static_cast<A>(acc + static_cast<A>(x[r * N + i]));
          }
          y[r * N + i] = static_cast<T>(acc);
        }
      }
    });
  });
}

// out[i] = sum_{j>=i} g[j] prod_{k<=j, k!=i} x[k] = before[i] * after[i], with
// before[i] = x[0] ... x[i-1] (exclusive product) and after[i] = g[i] + x[i+1] * after[i+1]
// (a reverse recurrence): no division, so zeros in x need no special case.
void cumprod_backward(const Tensor& x, const Tensor& g, const Tensor& out) {
  const int64_t R = x.sizes()[0], N = x.sizes()[1];
  dispatch_float_dtype(x.dtype(), "cumprod backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xs = x.data<T>();
    const T* gs = g.data<T>();
    T* os = out.data<T>();
    parallel_for(0, R, row_grain(N), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = xs + r * N;
        const T* gr = gs + r * N;
        T* o = os + r * N;
        double after = 0.0;
        for (int64_t i = N - 1; i >= 0; --i) {
          after = static_cast<double>(gr[i]) + (i + 1 < N ? static_cast<double>(xr[i + 1]) * after : 0.0);
          o[i] = static_cast<T>(after);  // before[i] applied below
        }
        double before = 1.0;
        for (int64_t i = 0; i < N; ++i) {
          o[i] = static_cast<T>(before * static_cast<double>(o[i]));
          before *= static_cast<double>(xr[i]);
        }
      }
    });
  });
}

// a < b in the sort order: NaN above every number, ties broken by the index.
template <typename T>
inline bool value_less(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
  }
  return a < b;
}

void sort_rows(const Tensor& in, const Tensor& values, const Tensor& indices, bool descending) {
  const int64_t R = in.sizes()[0], N = in.sizes()[1], K = values.sizes()[1];
  dispatch_compute_dtype(in.dtype(), "sort", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xs = in.data<T>();
    T* vs = values.data<T>();
    int64_t* is = indices.data<int64_t>();
    parallel_for(0, R, row_grain(N), [&](int64_t r0, int64_t r1) {
      std::vector<int64_t> order(N);
      for (int64_t r = r0; r < r1; ++r) {
        const T* x = xs + r * N;
        std::iota(order.begin(), order.end(), int64_t{0});
        auto before = [&](int64_t a, int64_t b) {
          if (descending ? value_less(x[b], x[a]) : value_less(x[a], x[b])) return true;
          if (descending ? value_less(x[a], x[b]) : value_less(x[b], x[a])) return false;
          return a < b;  // equal (or both NaN): the lower index first
        };
        if (K < N) std::partial_sort(order.begin(), order.begin() + K, order.end(), before);
        else std::sort(order.begin(), order.end(), before);
        for (int64_t k = 0; k < K; ++k) {
          vs[r * K + k] = x[order[k]];
          is[r * K + k] = order[k];
        }
      }
    });
  });
}

}  // namespace

void register_scan_sort_kernels(KernelRegistry& r) {
  r.scan.set(OpId::cumsum, DeviceType::CPU, &scan);
  r.scan.set(OpId::cumprod, DeviceType::CPU, &scan);
  r.cumprod_backward.set(OpId::cumprod, DeviceType::CPU, &cumprod_backward);
  for (OpId op : {OpId::sort, OpId::argsort, OpId::topk}) r.sort.set(op, DeviceType::CPU, &sort_rows);
}

}  // namespace nn::cpu
