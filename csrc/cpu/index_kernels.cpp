// index_kernels.cpp — CPU kernels behind advanced indexing (ops/index.cpp).
//
// Layout: src/dst are 2-D (S, J) views (any strides), `index` is a contiguous int64
// vector of N row numbers already checked to lie in [0, S); out and src-of-scatter are
// (N, J). Gather copies rows; scatter writes rows in index order (with duplicates the
// last write wins, or all of them are summed when accumulating), serially over N so the
// result is deterministic.
#include <cstring>

#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"
#include "core/parallel.h"

namespace nn::cpu {
namespace {

void gather_rows(const Tensor& src, const Tensor& index, const Tensor& out) {
  dispatch_storage_dtype(src.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = index.numel(), J = src.sizes()[1];
    const int64_t ss = src.strides()[0], sj = src.strides()[1], os = out.strides()[0], oj = out.strides()[1];
    const T* s = src.data<T>();
    T* o = out.data<T>();
    const int64_t* idx = index.data<int64_t>();
    parallel_for(0, N, std::max<int64_t>(1, 16384 / std::max<int64_t>(J, 1)), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        const T* row = s + idx[n] * ss;
        T* dst = o + n * os;
        if (sj == 1 && oj == 1) std::memcpy(dst, row, static_cast<size_t>(J) * sizeof(T));
        else for (int64_t j = 0; j < J; ++j) dst[j * oj] = row[j * sj];
      }
    });
  });
}

void scatter_rows(const Tensor& dst, const Tensor& index, const Tensor& src, bool accumulate) {
  auto body = [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = index.numel(), J = dst.sizes()[1];
    const int64_t ds = dst.strides()[0], dj = dst.strides()[1], ss = src.strides()[0], sj = src.strides()[1];
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    const int64_t* idx = index.data<int64_t>();
    for (int64_t n = 0; n < N; ++n) {
      T* row = d + idx[n] * ds;
      const T* from = s + n * ss;
      if (accumulate) {
        if constexpr (std::is_same_v<T, bool>) {
          for (int64_t j = 0; j < J; ++j) row[j * dj] = row[j * dj] || from[j * sj];
        } else if constexpr (std::is_arithmetic_v<T>) {
          for (int64_t j = 0; j < J; ++j) row[j * dj] = static_cast<T>(row[j * dj] + from[j * sj]);
        } else {  // half types: add in float
          for (int64_t j = 0; j < J; ++j)
            row[j * dj] = store_from_double<T>(load_as_double(row[j * dj]) + load_as_double(from[j * sj]));
        }
      } else {
        for (int64_t j = 0; j < J; ++j) row[j * dj] = from[j * sj];
      }
    }
  };
  dispatch_storage_dtype(dst.dtype(), body);
}

}  // namespace

void register_index_kernels(KernelRegistry& r) {
  r.gather.set(OpId::index, DeviceType::CPU, &gather_rows);
  r.scatter.set(OpId::index_put, DeviceType::CPU, &scatter_rows);
}

}  // namespace nn::cpu
