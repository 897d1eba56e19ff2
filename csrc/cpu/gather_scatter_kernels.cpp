// gather_scatter_kernels.cpp — CPU kernels of gather / index_select (DimGatherKernel)
// and scatter / scatter_add (DimScatterKernel), along one dim of tensors of equal ndim.
//
// Both walk index's "lines": the positions along `dim` for one choice of the other
// coordinates. Lines are split between threads; within a line the positions are visited
// in index order. Two lines never write the same destination element (they differ in a
// coordinate other than `dim`, and dst is never an expanded view), so scatter_add sums
// every destination in one fixed order and its result does not depend on the threads.
#include <array>

#include "core/parallel.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

// Sizes and strides of index's lines: the dims other than `dim` (outer) and the stride
// along `dim` of each of K tensors.
template <size_t K>
struct LineLayout {
  Shape outer;                      // index sizes without dim
  std::array<Shape, K> strides;     // each tensor's strides without dim
  std::array<int64_t, K> along{};   // each tensor's stride along dim
  int64_t length = 0;               // index.size(dim)
  int64_t count = 1;                // number of lines

  LineLayout(const Tensor& index, const std::array<const Tensor*, K>& ts, int64_t dim) {
    for (int64_t d = 0; d < index.dim(); ++d) {
      if (d == dim) continue;
      outer.push_back(index.sizes()[d]);
      count *= index.sizes()[d];
      for (size_t k = 0; k < K; ++k) strides[k].push_back(ts[k]->strides()[d]);
    }
    for (size_t k = 0; k < K; ++k) along[k] = ts[k]->strides()[dim];
    length = index.sizes()[dim];
  }

  // Element offsets (from each tensor's data pointer) of the start of line `line`.
  std::array<int64_t, K> start(int64_t line) const {
    std::array<int64_t, K> off{};
    for (int64_t d = static_cast<int64_t>(outer.size()) - 1; d >= 0; --d) {
      const int64_t c = line % outer[d];
      line /= outer[d];
      for (size_t k = 0; k < K; ++k) off[k] += c * strides[k][d];
    }
    return off;
  }
};

int64_t grain_for(int64_t line_length) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(line_length, 1)); }

void dim_gather(const Tensor& src, const Tensor& index, const Tensor& out, int64_t dim) {
  const LineLayout<3> L(index, {&src, &index, &out}, dim);
  const int64_t* idx = index.data<int64_t>();
  dispatch_storage_dtype(src.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* s = src.data<T>();
    T* o = out.data<T>();
    parallel_for(0, L.count, grain_for(L.length), [&](int64_t l0, int64_t l1) {
      for (int64_t l = l0; l < l1; ++l) {
        const auto off = L.start(l);
        for (int64_t k = 0; k < L.length; ++k)
          o[off[2] + k * L.along[2]] = s[off[0] + idx[off[1] + k * L.along[1]] * L.along[0]];
      }
    });
  });
}

template <typename T>
inline void add_into(T& dst, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    dst = dst || v;
  } else if constexpr (std::is_arithmetic_v<T>) {
    dst = static_cast<T>(dst + v);  // integers wrap as in PyTorch
  } else {  // half types: add in float, round once
    dst = store_from_double<T>(load_as_double(dst) + load_as_double(v));
  }
}

void dim_scatter(const Tensor& dst, const Tensor& index, const Tensor& src, int64_t dim, bool accumulate) {
  const LineLayout<3> L(index, {&dst, &index, &src}, dim);
  const int64_t* idx = index.data<int64_t>();
  dispatch_storage_dtype(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    parallel_for(0, L.count, grain_for(L.length), [&](int64_t l0, int64_t l1) {
      for (int64_t l = l0; l < l1; ++l) {
        const auto off = L.start(l);
        for (int64_t k = 0; k < L.length; ++k) {
          T& target = d[off[0] + idx[off[1] + k * L.along[1]] * L.along[0]];
          const T& value = s[off[2] + k * L.along[2]];
          if (accumulate) add_into(target, value);
          else target = value;
        }
      }
    });
  });
}

}  // namespace

void register_gather_scatter_kernels(KernelRegistry& r) {
  r.dim_gather.set(OpId::gather, DeviceType::CPU, &dim_gather);
  r.dim_gather.set(OpId::index_select, DeviceType::CPU, &dim_gather);
  r.dim_scatter.set(OpId::scatter, DeviceType::CPU, &dim_scatter);
  r.dim_scatter.set(OpId::scatter_add, DeviceType::CPU, &dim_scatter);
}

}  // namespace nn::cpu
