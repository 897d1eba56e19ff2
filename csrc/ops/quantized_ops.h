// quantized_ops.h — int8 quantization ops (ops/quantized.cpp): quantize / dequantize
// per tensor and per channel, dynamic per-row quantization of activations, and the
// quantized linear / conv2d built on the int8 GEMM (cpu/gemm/qgemm.h).
//
// Conventions (PyTorch's affine quantization):
//   quantize:   q = clamp(nearbyint(x * (1/scale)) + zero_point, qmin, qmax)
//               (float32 math, 1/scale rounded to float32 first as torch does; round
//               half to even; NaN maps to qmin); uint8: [0, 255], int8: [-128, 127].
//   dequantize: x = float(q - zero_point) * scale   (float32)
// Weights are symmetric int8 (zero point 0), per tensor or per output channel.
// None of these ops is differentiable: they never record autograd history and their
// outputs never require grad (inputs that require grad are read as constants, as under
// no_grad). Quantization-aware training is out of scope.
#pragma once
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "ops/ops.h"

namespace nn {


// quantize_per_tensor: a schema row (ops_generated.h)
// scales: float (C,), zero_points: integer (C,), C = x.size(axis).
// quantize_per_channel: a schema row (ops_generated.h)
// dequantize_per_tensor: a schema row (ops_generated.h)
// dequantize_per_channel: a schema row (ops_generated.h)

// Dynamic quantization of the rows of x (all dims but the last are rows) to uint8:
// per row, lo = min(0, min x), hi = max(0, max x), scale = (hi - lo) / 255 (1 for an
// all-zero row), zero_point = clamp(nearbyint(-lo * (1/scale)), 0, 255). Returns
// (q uint8 of x's shape, scales float32 (rows,), zero_points int32 (rows,)).
// quantize_rows: a schema row (ops_generated.h)

// Packs an int8 weight w (N, K) (a Linear weight, out x in) with its scales (a float
// tensor of 1 or N values) into the GEMM layout, once.
QWeight pack_linear_weight(const Tensor& w, const Tensor& scales);
// The int8 weight (N, K) back from a packed weight.
Tensor unpack_linear_weight(const QWeight& w);

// y = act(x @ W^T * scales + bias). x float (..., K), quantized per row at run time;
// float32 output (..., N).
// quantized_linear_dynamic: a schema row (ops_generated.h)
// x uint8 (..., K) quantized per tensor (x_scale, x_zero_point); out_dtype float32
// (dequantized) or uint8/int8 (requantized with out_scale, out_zero_point).
// quantized_linear: a schema row (ops_generated.h)
// x uint8 (N, C, H, W) per tensor; w packed from the (Cout, C*kh*kw) int8 weight
// (groups = 1); im2col (padding with the input zero point, i.e. real 0) + the int8 GEMM.
// quantized_conv2d: a schema row (ops_generated.h)

// The raw GEMM for tests and benchmarks: a uint8 (M, K) any strides; per-tensor
// (a_scales/a_zero_points undefined) or per-row activation parameters; output
// "float32" | "int32" | "uint8" | "int8". reference=true runs gemm::qgemm_ref on the
// unpacked weight instead of the packed kernels.
Tensor qgemm(const Tensor& a, const QWeight& w, double a_scale, int64_t a_zero_point,
             const Tensor& a_scales, const Tensor& a_zero_points, const Tensor& bias,
             const std::string& activation, const std::string& output, double out_scale,
             int64_t out_zero_point, bool reference);

}  // namespace nn
