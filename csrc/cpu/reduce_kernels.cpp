// reduce_kernels.cpp — CPU kernels of the REDUCE family and softmax.
//
// Layout: the op hands a view `in` of shape (O, R, I) (any strides) and contiguous
// outputs (O, I): out[o, i] = reduce_r in[o, r, i]; for max/min/argmax/argmin `idx`
// receives the position r of the first extreme element (NaN counts as the extreme, as
// in NumPy and PyTorch).
//
// Note [Deterministic sums]: float sums are accumulated in fixed blocks of kSumBlock
// elements (16 float lanes inside a block, the block total in double) and the block
// totals are added in order, so the result does not depend on the thread count.
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/dtype_dispatch.h"
#include "cpu/kernels.h"
#include "core/parallel.h"

namespace nn::cpu {
namespace {

constexpr int64_t kSumBlock = 4096;

// Sum of n contiguous floats with 16 independent lanes (vectorisable without -ffast-math).
template <typename T>
double sum_block_contiguous(const T* x, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    float lanes[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
      for (int j = 0; j < 16; ++j) lanes[j] += x[i + j];
    double total = 0;
    for (int j = 0; j < 16; ++j) total += lanes[j];
    for (; i < n; ++i) total += x[i];
    return total;
  } else {
    double lanes[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) lanes[j] += static_cast<double>(x[i + j]);
    double total = 0;
    for (int j = 0; j < 8; ++j) total += lanes[j];
    for (; i < n; ++i) total += static_cast<double>(x[i]);
    return total;
  }
}

// out[o, i] = sum_r in[o, r, i] for float types.
template <typename T>
void sum_float(const Tensor& in, const Tensor& out) {
  const int64_t O = in.sizes()[0], R = in.sizes()[1], I = in.sizes()[2];
  const int64_t so = in.strides()[0], sr = in.strides()[1], si = in.strides()[2];
  const T* base = in.data<T>();
  T* dst = out.data<T>();
  if (I == 1 && sr == 1 && O == 1) {  // one long contiguous row: blocks across threads
    const int64_t blocks = (R + kSumBlock - 1) / kSumBlock;
    std::vector<double> partial(static_cast<size_t>(blocks));
    parallel_for(0, blocks, 16, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t start = b * kSumBlock;
        partial[b] = sum_block_contiguous(base + start, std::min(kSumBlock, R - start));
      }
    });
    double total = 0;
    for (double p : partial) total += p;
    dst[0] = static_cast<T>(total);
    return;
  }
  if (I == 1) {  // many rows
    parallel_for(0, O, std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const T* row = base + o * so;
        double total = 0;
        if (sr == 1) {
          for (int64_t start = 0; start < R; start += kSumBlock)
            total += sum_block_contiguous(row + start, std::min(kSumBlock, R - start));
        } else {
          for (int64_t r = 0; r < R; ++r) total += static_cast<double>(row[r * sr]);
        }
        dst[o] = static_cast<T>(total);
      }
    });
    return;
  }
  // Column sums: accumulate whole rows of I in double.
  parallel_for(0, O * ((I + 255) / 256), std::max<int64_t>(1, 32768 / std::max<int64_t>(R * 256, 1)),
               [&](int64_t t0, int64_t t1) {
    std::vector<double> acc(256);
    const int64_t tiles = (I + 255) / 256;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / tiles, i0 = (t % tiles) * 256, ni = std::min<int64_t>(256, I - i0);
      std::fill(acc.begin(), acc.begin() + ni, 0.0);
      for (int64_t r = 0; r < R; ++r) {
        const T* row = base + o * so + r * sr + i0 * si;
        if (si == 1) {
          for (int64_t i = 0; i < ni; ++i) acc[i] += static_cast<double>(row[i]);
        } else {
          for (int64_t i = 0; i < ni; ++i) acc[i] += static_cast<double>(row[i * si]);
        }
      }
      for (int64_t i = 0; i < ni; ++i) dst[o * I + i0 + i] = static_cast<T>(acc[i]);
    }
  });
}

enum class Fold { Sum, Prod, Max, Min };

// The generic (O, R, I) loop for integer sums, products and extremes.
template <typename T, Fold fold>
void fold_generic(const Tensor& in, const Tensor& out, const Tensor& idx) {
  const int64_t O = in.sizes()[0], R = in.sizes()[1], I = in.sizes()[2];
  const int64_t so = in.strides()[0], sr = in.strides()[1], si = in.strides()[2];
  const T* base = in.data<T>();
  T* dst = out.defined() ? out.data<T>() : nullptr;
  int64_t* dst_idx = idx.defined() ? idx.data<int64_t>() : nullptr;
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  parallel_for(0, O * I, std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1)), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t o = p / I, i = p % I;
      const T* x = base + o * so + i * si;
      if constexpr (fold == Fold::Sum || fold == Fold::Prod) {
        Acc acc = fold == Fold::Sum ? Acc(0) : Acc(1);
        for (int64_t r = 0; r < R; ++r) {
          if constexpr (fold == Fold::Sum) acc = static_cast<Acc>(acc + static_cast<Acc>(x[r * sr]));
          else acc = static_cast<Acc>(acc * static_cast<Acc>(x[r * sr]));
        }
        dst[p] = static_cast<T>(acc);
      } else {
        T best = x[0];
        int64_t best_r = 0;
        for (int64_t r = 1; r < R; ++r) {
          const T v = x[r * sr];
          if (best != best) break;  // NaN already found: it stays the extreme
          const bool better = (v != v) || (fold == Fold::Max ? v > best : v < best);
          if (better) { best = v; best_r = r; }
        }
        if (dst) dst[p] = best;
        if (dst_idx) dst_idx[p] = best_r;
      }
    }
  });
}

void reduce_kernel(OpId op, const Tensor& in, const Tensor& out, const Tensor& idx) {
  dispatch_compute_dtype(in.dtype(), op_info(op).name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (op) {
      case OpId::sum:
        if constexpr (std::is_floating_point_v<T>) sum_float<T>(in, out);
        else fold_generic<T, Fold::Sum>(in, out, idx);
        break;
      case OpId::prod: fold_generic<T, Fold::Prod>(in, out, idx); break;
      case OpId::amax: case OpId::max: case OpId::argmax: fold_generic<T, Fold::Max>(in, out, idx); break;
      case OpId::amin: case OpId::min: case OpId::argmin: fold_generic<T, Fold::Min>(in, out, idx); break;
      default: throw RuntimeError(str(op_info(op).name, ": not a reduction"));
    }
  });
}

// softmax / log_softmax along the last dim of a contiguous (rows, cols) tensor.
void softmax_kernel(OpId op, const Tensor& in, const Tensor& out) {
  dispatch_float_dtype(in.dtype(), op_info(op).name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t rows = in.sizes()[0], cols = in.sizes()[1];
    const T* x = in.data<T>();
    T* y = out.data<T>();
    const bool log_out = op == OpId::log_softmax;
    parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t c = 0; c < cols; ++c) m = xr[c] > m || xr[c] != xr[c] ? xr[c] : m;
        if (m == -std::numeric_limits<T>::infinity()) m = 0;  // all -inf: avoid inf - inf
        double total = 0;
        for (int64_t c = 0; c < cols; ++c) {
          const T e = std::exp(xr[c] - m);
          total += e;
          if (!log_out) yr[c] = e;
        }
        if (log_out) {
          const T lse = static_cast<T>(std::log(total)) + m;
          for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] - lse;
        } else {
          const T inv = static_cast<T>(1.0 / total);
          for (int64_t c = 0; c < cols; ++c) yr[c] *= inv;
        }
      }
    });
  });
}

}  // namespace

void register_reduce_kernels(KernelRegistry& r) {
#define NN_REGISTER_REDUCE(name, grad) r.reduce.set(OpId::name, DeviceType::CPU, &reduce_kernel);
  NN_REDUCE_OPS(NN_REGISTER_REDUCE)
#undef NN_REGISTER_REDUCE
}

void register_softmax_kernels(KernelRegistry& r) {
  r.softmax.set(OpId::softmax, DeviceType::CPU, &softmax_kernel);
  r.softmax.set(OpId::log_softmax, DeviceType::CPU, &softmax_kernel);
}

}  // namespace nn::cpu
