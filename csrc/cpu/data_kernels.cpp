// data_kernels.cpp — CPU kernels of kernels/data.h: range checks of int64 values
// (Note [Checks in kernels]), advanced-index row numbers, the coordinates of a bool
// mask's true elements, random fills from the counter-based generator and arange.
//
// Layout: every tensor is contiguous (the ops make it so); positions are row-major.
// Random fills compute element i from the Philox block at (seed, offset + i) alone, so
// the split over threads does not change the numbers.
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/parallel.h"
#include "core/random.h"
#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"

namespace nn::cpu {
namespace {

DataCheck range_check(const Tensor& in, int64_t lo, int64_t hi) {
  const int64_t n = in.numel();
  const int64_t* p = in.data<int64_t>();
  std::atomic<int64_t> first{std::numeric_limits<int64_t>::max()};
  parallel_for(0, n, 1 << 15, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      if (p[i] >= lo && p[i] <= hi) continue;
      int64_t cur = first.load();
      while (i < cur && !first.compare_exchange_weak(cur, i)) {
      }
      return;  // later elements of this chunk come after i
    }
  });
  const int64_t pos = first.load();
  if (pos == std::numeric_limits<int64_t>::max()) return {};
  return {pos, p[pos]};
}

void index_rows(const Tensor& index, int64_t size, const Tensor& rows) {
  const int64_t n = index.numel();
  const int64_t* v = index.data<int64_t>();
  int64_t* r = rows.data<int64_t>();
  parallel_for(0, n, 1 << 15, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) r[i] = r[i] * size + (v[i] < 0 ? v[i] + size : v[i]);
  });
}

Tensor nonzero(const Tensor& mask) {
  const bool* m = mask.data<bool>();
  const int64_t n = mask.numel(), dims = mask.dim();
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += m[i] ? 1 : 0;
  Tensor out = empty({count, dims}, DType::Int64, mask.device());
  int64_t* o = out.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (!m[i]) continue;
    int64_t rest = i;  // row-major coordinates of flat position i, last dim first
    for (int64_t k = dims - 1; k >= 0; --k) {
      const int64_t size = mask.sizes()[k];
      o[k] = rest % size;
      rest /= size;
    }
    o += dims;
  }
  return out;
}

// True when v (< upper) would round up to `upper` in the storage type T.
template <typename T>
bool store_is_upper(double v, double upper) {
  return load_as_double(store_from_double<T>(v)) >= upper && v < upper;
}

void random_fill(const Tensor& out, const RandomParams& p) {
  const int64_t n = out.numel();
  const uint64_t range = static_cast<uint64_t>(p.high) - static_cast<uint64_t>(p.low);
  dispatch_storage_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    parallel_for(0, n, 16384, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const auto r = philox4x32_10(p.offset + static_cast<uint64_t>(i), p.seed);
        if (p.kind == RandomKind::Integer) {
          const uint64_t bits = (static_cast<uint64_t>(r[0]) << 32) | r[1];
          const int64_t v = static_cast<int64_t>(static_cast<uint64_t>(p.low) + bits % range);
          if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) o[i] = static_cast<T>(v);
          else o[i] = store_from_double<T>(static_cast<double>(v));
          continue;
        }
        double v;
        if (p.kind == RandomKind::Uniform) {
          const uint64_t bits = (static_cast<uint64_t>(r[0]) << 21) ^ (r[1] >> 11);  // 53 random bits
          const double u = static_cast<double>(bits & ((1ull << 53) - 1)) * 0x1.0p-53;
          v = p.a + (p.b - p.a) * u;
          // Rounding to the storage type must not produce the open upper bound.
          if (store_is_upper<T>(v, p.b)) v = p.a;
        } else {
          const double u1 = (static_cast<double>(r[0]) + 1.0) * 0x1.0p-32;  // (0, 1]
          const double u2 = static_cast<double>(r[1]) * 0x1.0p-32;
          v = p.a + p.b * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
        }
        o[i] = store_from_double<T>(v);
      }
    });
  });
}

void arange_fill(const Tensor& out, double start, double step) {
  const int64_t n = out.numel();
  dispatch_storage_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    parallel_for(0, n, 1 << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) o[i] = store_from_double<T>(start + static_cast<double>(i) * step);
    });
  });
}

}  // namespace

void register_data_kernels(KernelRegistry& r) {
  r.range_check.set(OpId::pow, DeviceType::CPU, &range_check);
  r.range_check.set(OpId::embedding, DeviceType::CPU, &range_check);
  r.range_check.set(OpId::index, DeviceType::CPU, &range_check);
  for (OpId op : {OpId::gather, OpId::scatter, OpId::scatter_add, OpId::index_select})
    r.range_check.set(op, DeviceType::CPU, &range_check);
  for (OpId op : {OpId::fmod, OpId::remainder}) r.range_check.set(op, DeviceType::CPU, &range_check);
  r.index_rows.set(OpId::index, DeviceType::CPU, &index_rows);
  r.nonzero.set(OpId::index, DeviceType::CPU, &nonzero);
  r.arange.set(OpId::arange, DeviceType::CPU, &arange_fill);
  r.random.set(DeviceType::CPU, &random_fill);
}

}  // namespace nn::cpu
