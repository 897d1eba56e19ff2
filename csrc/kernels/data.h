// data.h — kernels that read or write tensor data for decisions the op layer would
// otherwise take on the host (DESIGN.md: "the op layer never reads tensor data on the
// host"): range checks of index / exponent values, the coordinates of a bool mask's
// true elements, advanced-index row numbers, random fills and arange. The tables are in
// kernels/dispatch.h; the CPU kernels in cpu/data_kernels.cpp.
//
// Note [Checks in kernels]: a data-dependent check runs in the device's kernel, which
// returns what it found (a DataCheck: the first offending element, in row-major order);
// the op raises after the kernel returns, with the message it always had. On CPU this is
// an ordinary return value; a CUDA kernel writes it to device memory and the op's read of
// the (few-byte) result is the synchronisation point, as PyTorch's index checks are.
#pragma once
#include <cstdint>

#include "core/tensor.h"
#include "kernels/op_table.h"

namespace nn {

// The first element that failed a check (row-major position and its value), or
// position == -1 when every element passed.
struct DataCheck {
  int64_t position = -1;
  int64_t value = 0;
  bool ok() const { return position < 0; }
};

//   RangeCheckKernel(in, lo, hi)    in int64 contiguous; the first element outside
//                                   [lo, hi] (embedding indices, advanced indices before
//                                   wrapping, pow's integer exponents).
using RangeCheckKernel = DataCheck (*)(const Tensor& in, int64_t lo, int64_t hi);
//   IndexRowsKernel(index, size, rows)  index, rows int64 (N,) contiguous, index already
//                                   range-checked to [-size, size); rows[n] = rows[n] *
//                                   size + (index[n] < 0 ? index[n] + size : index[n])
//                                   (one indexed dim of an advanced index, Horner order).
using IndexRowsKernel = void (*)(const Tensor& index, int64_t size, const Tensor& rows);
//   NonzeroKernel(mask)             mask bool contiguous of any dim; returns int64
//                                   (count, mask.dim()) contiguous on mask's device: the
//                                   coordinates of the true elements in row-major order
//                                   (torch.nonzero). The kernel allocates because only it
//                                   knows the count.
using NonzeroKernel = Tensor (*)(const Tensor& mask);

// Random fills from the counter-based generator (core/random.h, Note [Counter-based
// RNG]): element i (row-major) uses the Philox block at (seed, offset + i), so a fill is
// the same on every device and thread count.
enum class RandomKind : uint8_t {
  Uniform,  // a + (b - a) * u, u in [0, 1) from 53 bits; never rounds up to b in out's dtype
  Normal,   // a + b * N(0, 1) (Box-Muller)
  Integer,  // low + bits % (high - low), high > low
};
struct RandomParams {
  RandomKind kind = RandomKind::Uniform;
  double a = 0.0, b = 1.0;    // Uniform: [a, b); Normal: mean a, std b
  int64_t low = 0, high = 1;  // Integer: [low, high)
  uint64_t seed = 0, offset = 0;
};
//   RandomKernel(out, p)            out contiguous; floating for Uniform / Normal, any
//                                   dtype for Integer.
using RandomKernel = void (*)(const Tensor& out, const RandomParams& p);
//   ArangeKernel(out, start, step)  out (count,) contiguous, any dtype: out[i] = start +
//                                   i * step (computed in double, stored in out's dtype).
using ArangeKernel = void (*)(const Tensor& out, double start, double step);

}  // namespace nn
