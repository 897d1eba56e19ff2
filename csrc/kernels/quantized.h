// quantized.h — the int8 kernel interface: the packed-weight handle, the argument
// structs and the kernel signatures of the int8 ops (ops/quantized.cpp). Each device
// implements them (CPU: cpu/quantize_kernels.cpp for the element loops,
// cpu/qgemm_kernels.cpp for the int8 GEMM on top of cpu/gemm/qgemm.h) and registers
// them in the registry (kernels/dispatch.h).
//
// Conventions are those of ops/quantized_ops.h (PyTorch's affine quantization):
//   quantize:   q = clamp(nearbyint(x * (1/scale)) + zero_point, qmin, qmax), NaN -> qmin
//   dequantize: x = float(q - zero_point) * scale
// Per-channel parameters index the channel axis of x viewed as (outer, C, inner).
// The int8 GEMM is u8 activations x s8 weights with int32 accumulation and a fused
// epilogue (Note [QGEMM epilogue] in cpu/gemm/qgemm.h): the output dtype (float32,
// int32, uint8 or int8) selects what the epilogue writes.
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "kernels/op_table.h"

namespace nn {

// An int8 weight B (K x N; a Linear weight W (N, K) is B = W^T) packed ONCE into a
// device's GEMM layout, with its symmetric scales (1 per tensor, or N per column). The
// op and runtime layers only see this handle (shapes, scales, size); the layout belongs
// to the device that packed it (the CPU one: cpu/qgemm_kernels.cpp).
class PackedInt8Weight {
 public:
  virtual ~PackedInt8Weight() = default;
  virtual Device device() const = 0;
  virtual int64_t K() const = 0;  // in_features
  virtual int64_t N() const = 0;  // out_features
  virtual int64_t packed_bytes() const = 0;
  virtual std::vector<float> scales() const = 0;  // 1 (per tensor) or N (per column) values
};
using QWeight = std::shared_ptr<PackedInt8Weight>;

// Exactness bound of the int32 accumulation: |acc| <= K * 255 * 128 fits in int32.
constexpr int64_t kQgemmMaxK = 65536;

// A quantization scale the kernels accept: finite, positive, and still so (with a finite
// reciprocal) in float32.
inline bool valid_qscale(double scale) {
  return std::isfinite(scale) && scale > 0 && static_cast<float>(scale) > 0 &&
         std::isfinite(1.0f / static_cast<float>(scale));
}

// Parameters of quantize / dequantize. Per tensor: scale, zero_point (scales undefined).
// Per channel: scales float32 (C) and zero_points int32 (C), contiguous, on the data's
// device; the data is viewed as (outer, C, inner) around the channel axis.
struct QuantizeParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
  Tensor scales, zero_points;
  int64_t outer = 1, channels = 1, inner = 1;
};

//   QuantizeKernel(op, in, out, p)   op quantize_per_tensor / quantize_per_channel: in
//                                   float32, out uint8 or int8; op dequantize /
//                                   dequantize_per_channel: in uint8 or int8, out float32
//                                   (per channel when p.scales is defined). in and out contiguous, of one shape.
using QuantizeKernel = void (*)(OpId op, const Tensor& in, const Tensor& out, const QuantizeParams& p);
//   QuantizeRowsKernel(x, q, scales, zero_points)  x float32 (M, K) contiguous; q uint8
//                                   (M, K), scales float32 (M), zero_points int32 (M).
//                                   Returns false when a row has a non-finite value (or
//                                   a range that overflows float32); q is then garbage.
using QuantizeRowsKernel = bool (*)(const Tensor& x, const Tensor& q, const Tensor& scales,
                                    const Tensor& zero_points);

// The first invalid per-channel parameter (channel order; a channel's scale is checked
// before its zero point), or channel == -1 when all are valid.
struct QParamsCheck {
  int64_t channel = -1;
  bool bad_scale = false;  // else the zero point is out of range
  double scale = 0;
  int64_t zero_point = 0;
};
//   QParamsKernel(scales, zero_points, scales_out, zero_points_out, zp_min, zp_max)
//                                   scales float64 (C) contiguous, checked with
//                                   valid_qscale and written to scales_out float32 (C);
//                                   zero_points int64 (C) contiguous or undefined, written
//                                   to zero_points_out int32 (C) and, when zp_min <=
//                                   zp_max, checked against [zp_min, zp_max].
using QParamsKernel = QParamsCheck (*)(const Tensor& scales, const Tensor& zero_points, const Tensor& scales_out,
                                       const Tensor& zero_points_out, int64_t zp_min, int64_t zp_max);

// The fused epilogue of the int8 GEMM. Activation parameters are per tensor
// (a_scale, a_zero_point) or per row (a_scales float32 (M), a_zero_points int32 (M),
// contiguous). bias: float32 (N) contiguous or undefined. out_scale / out_zero_point
// requantize uint8 / int8 outputs.
enum class QActivation { None, Relu, Gelu };
struct QGemmEpilogue {
  float a_scale = 1.0f;
  int32_t a_zero_point = 0;
  Tensor a_scales, a_zero_points;
  Tensor bias;
  QActivation act = QActivation::None;
  float out_scale = 1.0f;
  int32_t out_zero_point = 0;
};

//   QPackKernel(w, scales)          w int8 (N, K) with non-negative strides (a Linear
//                                   weight), K <= kQgemmMaxK; scales float32 (1 or N)
//                                   contiguous. Returns the packed B = W^T.
using QPackKernel = QWeight (*)(const Tensor& w, const Tensor& scales);
//   QUnpackKernel(w, out)           out int8 (N, K) contiguous = the weight w was packed from.
using QUnpackKernel = void (*)(const PackedInt8Weight& w, const Tensor& out);
//   QGemmKernel(a, w, out, ep)      a uint8 (M, K) any non-negative strides, K == w.K();
//                                   out (M, N) any strides, of dtype float32, int32, uint8
//                                   or int8 (what the epilogue writes). The reference entry
//                                   runs the plain loops on the unpacked weight.
using QGemmKernel = void (*)(const Tensor& a, const PackedInt8Weight& w, const Tensor& out, const QGemmEpilogue& ep);
//   QConv2dKernel(x, w, kh, kw, p, out, ep)  x uint8 (N, C, H, W) contiguous; w packed
//                                   from the (Cout, C*kh*kw) weight (groups == 1); out
//                                   (N, Cout, OH, OW) contiguous, float32 / uint8 / int8.
//                                   Padding reads the input zero point (ep.a_zero_point).
struct Conv2dParams;
using QConv2dKernel = void (*)(const Tensor& x, const PackedInt8Weight& w, int64_t kh, int64_t kw,
                               const Conv2dParams& p, const Tensor& out, const QGemmEpilogue& ep);

}  // namespace nn
