// elementwise_loop.h — the one strided iterator for elementwise kernels.
//
// for_each_strided<N>(sizes, operands, grain, inner) walks N operands that share
// `sizes` (inputs already broadcast: stride 0 on expanded dims) and calls
//   inner(char* ptrs[N], const int64_t byte_strides[N], int64_t n)
// on runs of n elements along the innermost (coalesced) dimension. Size-1 dims are
// dropped and adjacent dims merged when every operand allows, so contiguous tensors
// become one run. The linear range is split across threads by parallel_for; each
// thread writes a disjoint part of the output, so the result is deterministic.
#pragma once
#include <array>
#include <cstdint>

#include "core/parallel.h"
#include "core/tensor.h"

namespace nn::cpu {

struct StridedOperand {
  char* data;
  const Shape* strides;  // in elements
  int64_t itemsize;
};

constexpr int kMaxLoopDims = 64;

template <int N>
struct LoopGeometry {
  int ndim = 0;                          // after dropping and coalescing
  int64_t sizes[kMaxLoopDims];           // innermost last
  int64_t strides[N][kMaxLoopDims];      // bytes
  int64_t numel = 1;
};

template <int N>
LoopGeometry<N> make_geometry(const Shape& sizes, const std::array<StridedOperand, N>& ops) {
  LoopGeometry<N> g;
  const int nd = static_cast<int>(sizes.size());
  // Collect non-trivial dims.
  int64_t tmp_sizes[64];
  int64_t tmp_strides[N][64];
  int k = 0;
  for (int d = 0; d < nd; ++d) {
    g.numel *= sizes[d];
    if (sizes[d] == 1) continue;
    tmp_sizes[k] = sizes[d];
    for (int i = 0; i < N; ++i) tmp_strides[i][k] = (*ops[i].strides)[d] * ops[i].itemsize;
    ++k;
  }
  // Coalesce from the innermost dim outwards.
  int out = 0;
  for (int d = k - 1; d >= 0; --d) {
    if (out > 0) {
      bool mergeable = true;
      const int last = out - 1;
      for (int i = 0; i < N; ++i)
        if (tmp_strides[i][d] != g.strides[i][last] * g.sizes[last]) { mergeable = false; break; }
      if (mergeable) {
        g.sizes[last] *= tmp_sizes[d];
        continue;
      }
    }
    g.sizes[out] = tmp_sizes[d];
    for (int i = 0; i < N; ++i) g.strides[i][out] = tmp_strides[i][d];
    ++out;
  }
  // Reverse so the innermost dim is last.
  for (int a = 0, b = out - 1; a < b; ++a, --b) {
    std::swap(g.sizes[a], g.sizes[b]);
    for (int i = 0; i < N; ++i) std::swap(g.strides[i][a], g.strides[i][b]);
  }
  if (out == 0) {  // a scalar or all-ones shape: one element
    g.sizes[0] = 1;
    for (int i = 0; i < N; ++i) g.strides[i][0] = 0;
    out = 1;
  }
  g.ndim = out;
  return g;
}

template <int N, typename Inner>
void for_each_strided(const Shape& sizes, const std::array<StridedOperand, N>& ops, int64_t grain,
                      const Inner& inner) {
  if (sizes.size() > 64) throw ValueError("elementwise: more than 64 dimensions are not supported");
  const LoopGeometry<N> g = make_geometry<N>(sizes, ops);
  if (g.numel == 0) return;
  const int nd = g.ndim;
  const int64_t inner_size = g.sizes[nd - 1];
  int64_t inner_strides[N];
  for (int i = 0; i < N; ++i) inner_strides[i] = g.strides[i][nd - 1];

  auto run_range = [&](int64_t begin, int64_t end) {
    // Multi-index of `begin`.
    int64_t idx[kMaxLoopDims];
    int64_t rem = begin;
    for (int d = nd - 1; d >= 0; --d) {
      idx[d] = rem % g.sizes[d];
      rem /= g.sizes[d];
    }
    char* ptrs[N];
    for (int i = 0; i < N; ++i) {
      int64_t off = 0;
      for (int d = 0; d < nd; ++d) off += idx[d] * g.strides[i][d];
      ptrs[i] = ops[i].data + off;
    }
    int64_t pos = begin;
    while (pos < end) {
      const int64_t n = std::min(inner_size - idx[nd - 1], end - pos);
      inner(ptrs, inner_strides, n);
      pos += n;
      if (pos >= end) break;
      // Advance: inner dim wraps to 0, carry into the outer dims.
      for (int i = 0; i < N; ++i) ptrs[i] += n * inner_strides[i];
      idx[nd - 1] += n;
      for (int d = nd - 1; d > 0 && idx[d] == g.sizes[d]; --d) {
        for (int i = 0; i < N; ++i) ptrs[i] -= g.sizes[d] * g.strides[i][d];
        idx[d] = 0;
        ++idx[d - 1];
        for (int i = 0; i < N; ++i) ptrs[i] += g.strides[i][d - 1];
      }
    }
  };
  parallel_for(0, g.numel, grain, run_range);
}

// Grain sizes: below this many elements a kernel runs on one thread.
constexpr int64_t kElementwiseGrain = 32768;

}  // namespace nn::cpu
