// dispatch.h — kernel signatures per family and the (op, device) -> kernel tables.
//
// Ops (csrc/ops) check arguments, allocate outputs, then call
//   kernel<Family>(op, device)(args...)
// Kernels register themselves per device (cpu/register_cpu_kernels.cpp; a CUDA file
// does the same later). A missing (op, device) entry raises DeviceError naming both.
//
// Kernel contracts (all tensors already validated by the op):
//   UnaryKernel(op, in, out)        in, out: same sizes and dtype (a compute dtype:
//                                   never float16/bfloat16), any strides.
//   UnaryBackwardKernel(op, g, x, y, out)  out = g * d op(x)/dx, with y = op(x); all of
//                                   one compute dtype and out's sizes, any strides.
//   BinaryKernel(op, a, b, out)     a, b: same dtype, already broadcast (stride-0 views)
//                                   to out's sizes; out has a's dtype (Bool for COMPARE).
//   ReduceKernel(op, in, out, idx)  in is (O, R, I) with any strides; out and idx (int64,
//                                   only for max/min/argmax/argmin) are contiguous (O, I).
//   CopyKernel(dst, src)            src already broadcast to dst's sizes; any dtypes.
//   MatmulKernel(a, b, out)         a (B, M, K), b (B, K, N), out (B, M, N) contiguous;
//                                   a, b any strides; same float dtype.
//   SoftmaxKernel(op, in, out)      in, out contiguous (R, C); softmax along C.
//   WhereKernel(cond, a, b, out)    cond bool, a and b of out's dtype; all broadcast.
//   GemmKernel(a, b, out, ep)       a (M, K), b (K, N) any non-negative strides, float32 or
//                                   bfloat16; out (M, N) float32 contiguous; beta == 0
//                                   never reads out.
//   FillKernel(out, value)          any strides.
//   GatherKernel(src, index, out)   out[i, j] = src[index[i], j] with src (S, J),
//                                   index (N,) int64 validated, out (N, J).
//   ScatterAddKernel(dst, index, src, accumulate)  dst[index[i], j] (+)= src[i, j].
//   Sgd/Adam/RmspropKernel(...)     fused optimizer updates (ops/optim.h; not ops: no
//                                   op-table row, no autograd): every tensor contiguous,
//                                   float32 or float64, p's numel; updated in place.
#pragma once
#include "core/tensor.h"
#include "ops/op_table.h"

namespace nn {

using UnaryKernel = void (*)(OpId, const Tensor& in, const Tensor& out);
using UnaryBackwardKernel = void (*)(OpId, const Tensor& grad, const Tensor& x, const Tensor& y,
                                     const Tensor& out);
using BinaryKernel = void (*)(OpId, const Tensor& a, const Tensor& b, const Tensor& out);
using ReduceKernel = void (*)(OpId, const Tensor& in, const Tensor& out, const Tensor& idx);
using CopyKernel = void (*)(const Tensor& dst, const Tensor& src);
using MatmulKernel = void (*)(const Tensor& a, const Tensor& b, const Tensor& out);
using SoftmaxKernel = void (*)(OpId, const Tensor& in, const Tensor& out);
using WhereKernel = void (*)(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
using FillKernel = void (*)(const Tensor& out, double value);
using GatherKernel = void (*)(const Tensor& src, const Tensor& index, const Tensor& out);
// The fused GEMM epilogue of linear/addmm: out = act(alpha * a @ b + beta * out + bias).
enum class GemmActivation { None, Relu, Gelu };
struct GemmEpilogue {
  double alpha = 1.0, beta = 0.0;
  Tensor bias;  // contiguous float32 of length N (per column), or undefined
  GemmActivation act = GemmActivation::None;
};
using GemmKernel = void (*)(const Tensor& a, const Tensor& b, const Tensor& out, const GemmEpilogue& ep);
using ScatterKernel = void (*)(const Tensor& dst, const Tensor& index, const Tensor& src, bool accumulate);

// Optimizer updates, one fused pass over a parameter tensor (update rules in
// cpu/optim_kernels.cpp; the hyperparameter structs in ops/optim.h).
struct SgdOptions;
struct AdamOptions;
struct RmspropOptions;
using SgdKernel = void (*)(const Tensor& p, const Tensor& grad, const Tensor& momentum_buffer, bool first_step,
                           const SgdOptions& o);
using AdamKernel = void (*)(const Tensor& p, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                            const Tensor& max_exp_avg_sq, int64_t step, const AdamOptions& o);
using RmspropKernel = void (*)(const Tensor& p, const Tensor& grad, const Tensor& square_avg,
                               const Tensor& momentum_buffer, const Tensor& grad_avg, const RmspropOptions& o);
struct OptimKernels {
  SgdKernel sgd = nullptr;
  AdamKernel adam = nullptr;
  RmspropKernel rmsprop = nullptr;
};

// One table per kernel signature, indexed [op][device type].
template <typename Fn>
struct KernelTable {
  Fn fns[kNumOps][kNumDeviceTypes] = {};
  void set(OpId op, DeviceType d, Fn fn) { fns[static_cast<int>(op)][static_cast<int>(d)] = fn; }
  Fn get(OpId op, Device d) const {
    Fn fn = fns[static_cast<int>(op)][static_cast<int>(d.type)];
    if (fn == nullptr)
      throw DeviceError(str(op_info(op).name, ": no kernel for device ", d.str(), " in this build"));
    return fn;
  }
};

struct KernelRegistry {
  KernelTable<UnaryKernel> unary;
  KernelTable<UnaryBackwardKernel> unary_backward;
  KernelTable<BinaryKernel> binary;
  KernelTable<ReduceKernel> reduce;
  KernelTable<CopyKernel> copy;
  KernelTable<MatmulKernel> matmul;
  KernelTable<GemmKernel> gemm;
  KernelTable<SoftmaxKernel> softmax;
  KernelTable<WhereKernel> where;
  KernelTable<FillKernel> fill;
  KernelTable<GatherKernel> gather;
  KernelTable<ScatterKernel> scatter;
  OptimKernels optim[kNumDeviceTypes];  // indexed by device type; not op-table entries
};

// The process-wide registry, filled once (thread-safe static initialisation).
const KernelRegistry& kernels();

namespace cpu { void register_kernels(KernelRegistry& r); }

}  // namespace nn
