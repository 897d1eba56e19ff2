// dispatch.h — the kernel interface: kernel signatures per family, their option structs
// and the (op, device) -> kernel tables. This layer sits between autograd and the
// device backends (core <- autograd <- kernels <- cpu, cuda <- ops <- runtime):
// cpu/ (and later cuda/) include it and nothing of ops/; ops/ reach kernels only
// through it.
//
// Ops (csrc/ops) check arguments, allocate outputs, then call
//   kernels().<family>.get(op, device)(args...)
// Kernels register themselves per device (cpu/register_cpu_kernels.cpp; a CUDA file
// does the same later). A missing (op, device) entry raises DeviceError naming both.
// Functions without an op-table row of their own (the optimizer updates, the int8 GEMM
// and weight packing, random fills) have tables keyed by device only. The int8
// signatures and the packed-weight handle are in kernels/quantized.h; the data-dependent
// checks, mask coordinates, index rows, random and arange fills (Note [Checks in
// kernels]) in kernels/data.h.
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
//   DimGatherKernel(src, index, out, dim)  gather / index_select: src, index (int64),
//                                   out of one ndim >= 1, any strides (index may have
//                                   stride 0); out has index's sizes, index.size(d) <=
//                                   src.size(d) for d != dim, index values validated to
//                                   [0, src.size(dim)); out[p] = src[p, p[dim] = index[p]].
//   DimScatterKernel(dst, index, src, dim, accumulate)  scatter / scatter_add: for every
//                                   position p of index (index.size(d) <= src.size(d), and
//                                   <= dst.size(d) for d != dim, values validated):
//                                   dst[p, p[dim] = index[p]] (+)= src[p]. dst is not an
//                                   expanded view. Deterministic: each line along dim is
//                                   written by one thread, in index order.
//   ScanKernel(op, in, out)         cumsum / cumprod along the rows of contiguous (R, N)
//                                   in and out of one compute dtype (floats accumulate in
//                                   double, integers in their own type).
//   CumprodBackwardKernel(x, g, out)  (R, N) contiguous float32/float64: out[i] =
//                                   sum_{j>=i} g[j] * prod_{k<=j, k!=i} x[k] per row,
//                                   without division (exact with zeros in x).
//   SortKernel(in, values, indices, descending)  in (R, N) contiguous compute dtype;
//                                   values (R, K) and indices (R, K) int64 contiguous
//                                   with K <= N: the first K of each row in sorted order.
//                                   Total order: NaN above every number, ties by the
//                                   lower index first (so the result is stable).
//   Sgd/Adam/Rmsprop/Adagrad/AdadeltaKernel(...)     fused optimizer updates (ops/optim.h, options in
//                                   kernels/optim.h; not ops: no op-table row, no
//                                   autograd): every tensor contiguous,
//                                   float32 or float64, p's numel; updated in place.
#pragma once
#include "core/tensor.h"
#include "kernels/data.h"
#include "kernels/op_table.h"
#include "kernels/optim.h"
#include "kernels/quantized.h"
#include "kernels/rnn.h"

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
using DimGatherKernel = void (*)(const Tensor& src, const Tensor& index, const Tensor& out, int64_t dim);
using DimScatterKernel = void (*)(const Tensor& dst, const Tensor& index, const Tensor& src, int64_t dim,
                                  bool accumulate);
using ScanKernel = void (*)(OpId, const Tensor& in, const Tensor& out);
using CumprodBackwardKernel = void (*)(const Tensor& x, const Tensor& g, const Tensor& out);
using SortKernel = void (*)(const Tensor& in, const Tensor& values, const Tensor& indices, bool descending);

// ---- convolution, pooling, normalization (ops/conv.cpp, ops/pool.cpp, ops/norm.cpp;
// kernels in cpu/conv_kernels.cpp, cpu/pool_kernels.cpp, cpu/norm_kernels.cpp).
// All tensors are contiguous NCHW of one compute dtype (float32 or float64).
struct Conv2dParams {
  int64_t stride[2] = {1, 1}, padding[2] = {0, 0}, dilation[2] = {1, 1};
  int64_t groups = 1;
};
//   ConvForwardKernel(x, w, bias, y, p, relu)   x (N, Cin, H, W), w (Cout, Cin/g, kh, kw),
//                                   bias (Cout) or undefined, y (N, Cout, OH, OW) written
//                                   (never read); relu applied after the bias.
//   ConvBackwardInputKernel(gy, w, dx, p)       dx (N, Cin, H, W) = conv2d's input
//                                   gradient (overwritten); also conv_transpose2d forward.
//   ConvBackwardWeightKernel(x, gy, dw, p)      dw (Cout, Cin/g, kh, kw) overwritten.
using ConvForwardKernel = void (*)(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                                   const Conv2dParams& p, bool relu);
using ConvBackwardInputKernel = void (*)(const Tensor& gy, const Tensor& w, const Tensor& dx, const Conv2dParams& p);
using ConvBackwardWeightKernel = void (*)(const Tensor& x, const Tensor& gy, const Tensor& dw, const Conv2dParams& p);
struct Pool2dParams {
  int64_t kernel[2] = {1, 1}, stride[2] = {1, 1}, padding[2] = {0, 0}, dilation[2] = {1, 1};
  bool count_include_pad = true;
  int64_t divisor_override = 0;  // 0: none
};
//   PoolKernel(x, y, idx, p)        max_pool2d: y and idx (int64, flat h*W+w in the input
//                                   plane) (N, C, OH, OW); avg_pool2d: idx undefined;
//                                   adaptive_avg_pool2d: p unused (sizes from y).
//   PoolBackwardKernel(gy, idx, dx, p)  dx overwritten; idx as above or undefined.
using PoolKernel = void (*)(const Tensor& x, const Tensor& y, const Tensor& idx, const Pool2dParams& p);
using PoolBackwardKernel = void (*)(const Tensor& gy, const Tensor& idx, const Tensor& dx, const Pool2dParams& p);
//   NormStatsKernel(x, mean, var, groups)  x (N, C, S); batch_norm (groups == 0): mean,
//                                   biased var (C) over N and S; group_norm: (N, groups)
//                                   over C/groups and S. float64 accumulation.
//   NormApplyKernel(x, mean, rstd, w, b, y, groups)  y = (x - mean) * rstd * w + b
//                                   (w, b per channel, may be undefined).
//   NormBackwardKernel(g, x, mean, rstd, w, dx, dw, db, groups, stats_from_batch)
//                                   dx/dw/db may be undefined; stats_from_batch: mean
//                                   and rstd depend on x (training / group_norm).
using NormStatsKernel = void (*)(const Tensor& x, const Tensor& mean, const Tensor& var, int64_t groups);
using NormApplyKernel = void (*)(const Tensor& x, const Tensor& mean, const Tensor& rstd, const Tensor& w,
                                 const Tensor& b, const Tensor& y, int64_t groups);
using NormBackwardKernel = void (*)(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                                    const Tensor& w, const Tensor& dx, const Tensor& dw, const Tensor& db,
                                    int64_t groups, bool stats_from_batch);
// ---- attention, normalisation, dropout (ops/attention.cpp, ops/layer_norm.cpp; cpu/attention*.cpp)
// AttentionArgs: q (B, Hq, Lq, D), k (B, Hkv, Lk, D), v (B, Hkv, Lk, Dv), Hq % Hkv == 0;
// all of one compute dtype (float32 or float64), any non-negative strides with a unit
// last stride. mask: undefined or an additive mask of the same dtype viewed as
// (B, Hq, Lq, Lk) (stride 0 on broadcast dims, unit key stride). Causal is top-left
// aligned (key j visible to query i when j <= i). Dropout draws from Philox at
// (seed, offset) (Note [Attention dropout] in cpu/attention_kernels.cpp).
struct AttentionArgs {
  Tensor q, k, v, mask;
  bool causal = false;
  double scale = 1.0, dropout_p = 0.0;
  uint64_t seed = 0, offset = 0;
};
// Forward: out (B, Hq, Lq, Dv) any strides with a unit last stride; lse (B, Hq, Lq)
// contiguous (log-sum-exp of each row; +inf for a row with no visible key).
using AttentionKernel = void (*)(const AttentionArgs& a, const Tensor& out, const Tensor& lse);
// Backward: grad_out and out like the forward's out; dq, dk, dv contiguous, of q/k/v's
// sizes, overwritten.
using AttentionBackwardKernel = void (*)(const AttentionArgs& a, const Tensor& grad_out, const Tensor& out,
                                         const Tensor& lse, const Tensor& dq, const Tensor& dk, const Tensor& dv);
// Row normalisation over the last N elements: x (R, N) contiguous; weight/bias (N) or
// undefined; y (R, N); mean (R) (layer norm only) and rstd (R) saved for backward.
// rms: y = x * rstd * w with rstd = 1/sqrt(mean(x^2) + eps); else layer norm.
using LayerNormKernel = void (*)(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, bool rms,
                            const Tensor& y, const Tensor& mean, const Tensor& rstd);
// Backward: gx (R, N) and, when defined, gw / gb (N) are overwritten.
using LayerNormBackwardKernel = void (*)(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                    const Tensor& rstd, bool rms, const Tensor& gx, const Tensor& gw,
                                    const Tensor& gb);
// out = in * keep / (1 - p), keep drawn from Philox at (seed, offset) per element index
// of the contiguous in/out (same numbers in forward and backward).
using DropoutKernel = void (*)(const Tensor& in, const Tensor& out, double p, uint64_t seed, uint64_t offset);
// Optimizer updates, one fused pass over a parameter tensor (update rules in
// cpu/optim_kernels.cpp; the hyperparameter structs in kernels/optim.h).
using SgdKernel = void (*)(const Tensor& p, const Tensor& grad, const Tensor& momentum_buffer, bool first_step,
                           const SgdOptions& o);
using AdamKernel = void (*)(const Tensor& p, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                            const Tensor& max_exp_avg_sq, int64_t step, const AdamOptions& o);
using RmspropKernel = void (*)(const Tensor& p, const Tensor& grad, const Tensor& square_avg,
                               const Tensor& momentum_buffer, const Tensor& grad_avg, const RmspropOptions& o);
using AdagradKernel = void (*)(const Tensor& p, const Tensor& grad, const Tensor& state_sum, int64_t step,
                               const AdagradOptions& o);
using AdadeltaKernel = void (*)(const Tensor& p, const Tensor& grad, const Tensor& square_avg, const Tensor& acc_delta,
                                const AdadeltaOptions& o);
struct OptimKernels {
  SgdKernel sgd = nullptr;
  AdamKernel adam = nullptr;
  RmspropKernel rmsprop = nullptr;
  AdagradKernel adagrad = nullptr;
  AdadeltaKernel adadelta = nullptr;
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

// ---- spatial (ops/spatial.cpp; kernels in cpu/spatial_kernels.cpp). Contiguous float32 /
// float64 tensors viewed as planes: x (P, H, W) with P = N*C.
//   UpsampleKernel(x, y, p)            y (P, OH, OW) written from x (P, H, W).
//   UpsampleBackwardKernel(gy, dx, p)  dx (P, H, W) overwritten with the adjoint of gy.
//   Im2colKernel(x, cols, p)           x (N, C, H, W), cols (N, C*kh*kw, OH*OW) written.
//   Col2imKernel(cols, x, p)           the adjoint: x overwritten with the sums of cols.
//   GridSampleKernel(x, grid, y, p)    x (N, C, H, W), grid (N, OH, OW, 2), y (N, C, OH, OW).
//   GridSampleBackwardKernel(gy, x, grid, dx, dgrid, p)  dx / dgrid overwritten (either
//                                      may be undefined).
enum class UpsampleMode { nearest, nearest_exact, bilinear, bicubic };
struct UpsampleParams {
  UpsampleMode mode = UpsampleMode::nearest;
  bool align_corners = false;
  double scale[2] = {0.0, 0.0};  // the user's scale factors (h, w); 0: none (use sizes)
};
struct PatchParams {
  int64_t kernel[2] = {1, 1}, dilation[2] = {1, 1}, padding[2] = {0, 0}, stride[2] = {1, 1};
};
enum class GridMode { bilinear, nearest };
enum class GridPadding { zeros, border, reflection };
struct GridSampleParams {
  GridMode mode = GridMode::bilinear;
  GridPadding padding = GridPadding::zeros;
  bool align_corners = false;
};
using UpsampleKernel = void (*)(const Tensor& x, const Tensor& y, const UpsampleParams& p);
using UpsampleBackwardKernel = void (*)(const Tensor& gy, const Tensor& dx, const UpsampleParams& p);
using Im2colKernel = void (*)(const Tensor& x, const Tensor& cols, const PatchParams& p);
using Col2imKernel = void (*)(const Tensor& cols, const Tensor& x, const PatchParams& p);
using GridSampleKernel = void (*)(const Tensor& x, const Tensor& grid, const Tensor& y, const GridSampleParams& p);
using GridSampleBackwardKernel = void (*)(const Tensor& gy, const Tensor& x, const Tensor& grid, const Tensor& dx,
                                          const Tensor& dgrid, const GridSampleParams& p);

// A kernel of a function without an op-table row (the int8 GEMM family, random fills), one
// entry per device type. `name` (the calling op) names the missing entry in the error.
template <typename Fn>
struct DeviceKernelTable {
  Fn fns[kNumDeviceTypes] = {};
  void set(DeviceType d, Fn fn) { fns[static_cast<int>(d)] = fn; }
  Fn get(const char* name, Device d) const {
    Fn fn = fns[static_cast<int>(d.type)];
    if (fn == nullptr) throw DeviceError(str(name, ": no kernel for device ", d.str(), " in this build"));
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
  KernelTable<DimGatherKernel> dim_gather;    // gather, index_select
  KernelTable<DimScatterKernel> dim_scatter;  // scatter, scatter_add
  KernelTable<ScanKernel> scan;               // cumsum, cumprod
  KernelTable<CumprodBackwardKernel> cumprod_backward;
  KernelTable<SortKernel> sort;               // sort, argsort, topk
  KernelTable<ConvForwardKernel> conv_forward;
  KernelTable<ConvBackwardInputKernel> conv_backward_input;
  KernelTable<ConvBackwardWeightKernel> conv_backward_weight;
  KernelTable<PoolKernel> pool;
  KernelTable<PoolBackwardKernel> pool_backward;
  KernelTable<NormStatsKernel> norm_stats;
  KernelTable<NormApplyKernel> norm_apply;
  KernelTable<NormBackwardKernel> norm_backward;
  KernelTable<AttentionKernel> attention;
  KernelTable<AttentionBackwardKernel> attention_backward;
  KernelTable<LayerNormKernel> layer_norm;
  KernelTable<LayerNormBackwardKernel> layer_norm_backward;
  KernelTable<DropoutKernel> dropout;
  KernelTable<RnnCellForwardKernel> rnn_cell;            // rnn_layer (kernels/rnn.h)
  KernelTable<RnnCellBackwardKernel> rnn_cell_backward;
  OptimKernels optim[kNumDeviceTypes];  // indexed by device type; not op-table entries
  // int8 (kernels/quantized.h): quantize_per_tensor / quantize_per_channel / dequantize /
  // dequantize_per_channel, quantize_rows, quantized_conv2d. The per-channel parameter
  // check, weight packing and the int8 GEMM (shared by quantized_linear,
  // quantized_linear_dynamic and the raw qgemm of tests and benchmarks) are keyed by
  // device only.
  KernelTable<QuantizeKernel> quantize;
  KernelTable<QuantizeRowsKernel> quantize_rows;
  DeviceKernelTable<QParamsKernel> qparams;
  DeviceKernelTable<QPackKernel> qpack;
  DeviceKernelTable<QUnpackKernel> qunpack;
  DeviceKernelTable<QGemmKernel> qgemm;
  DeviceKernelTable<QGemmKernel> qgemm_reference;
  KernelTable<QConv2dKernel> qconv2d;
  // Data-dependent work (kernels/data.h): range checks (pow's exponents, embedding and
  // advanced indices), advanced-index rows and bool-mask coordinates (index), arange;
  // random fills have no op-table row (rand, randn, randint, uniform_, normal_).
  KernelTable<RangeCheckKernel> range_check;
  KernelTable<IndexRowsKernel> index_rows;
  KernelTable<NonzeroKernel> nonzero;
  KernelTable<ArangeKernel> arange;
  DeviceKernelTable<RandomKernel> random;
  // spatial (cpu/spatial_kernels.cpp): upsample has a fast kernel and its plain reference.
  KernelTable<UpsampleKernel> upsample;
  KernelTable<UpsampleKernel> upsample_reference;
  KernelTable<UpsampleBackwardKernel> upsample_backward;
  KernelTable<UpsampleBackwardKernel> upsample_backward_reference;
  KernelTable<Im2colKernel> im2col;
  KernelTable<Col2imKernel> col2im;
  KernelTable<GridSampleKernel> grid_sample;
  KernelTable<GridSampleBackwardKernel> grid_sample_backward;
};

// The process-wide registry, filled once (thread-safe static initialisation) by the
// registration functions the device layers add at static initialisation (csrc/cpu:
// register_cpu_kernels.cpp). The kernel interface knows no device layer: they sit above it.
const KernelRegistry& kernels();

using KernelRegistrationFn = void (*)(KernelRegistry&);
// Adds a device's registration function; returns true (for a static initialiser).
bool add_kernel_registration(KernelRegistrationFn fn);

}  // namespace nn
