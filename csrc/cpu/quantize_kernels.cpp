// quantize_kernels.cpp — CPU kernels of the int8 element ops (kernels/quantized.h):
// quantize / dequantize per tensor and per channel, dynamic per-row quantization, and
// the check + conversion of per-channel parameters. Plain C++ loops over contiguous
// buffers threaded with parallel_for; when the AVX-512 or AVX2 ISA is active the
// quantizing loops and the row min/max use cpu/quantize_kernels_avx512.cpp /
// cpu/quantize_kernels_avx2.cpp, which compute the same float operations in the same
// order, so results do not depend on the ISA.
//
// Dynamic per-row quantization maps each row's range [min(0, min x), max(0, max x)] onto
// [0, qmax] with qmax = gemm::qgemm_dynamic_qmax(): 255, or 127 where the int8 GEMM is
// the AVX2 7-bit kernel (only that choice depends on the ISA).
//
// Layouts: in/out contiguous; per-channel parameters index C of (outer, C, inner).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/parallel.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm/qgemm.h"
#include "cpu/kernels.h"
#include "cpu/quantize_kernels.h"

namespace nn::cpu {
namespace {

struct QRange {
  float qmin, qmax;
};

QRange qrange_of(DType dtype) { return dtype == DType::UInt8 ? QRange{0.0f, 255.0f} : QRange{-128.0f, 127.0f}; }

// nearbyint(x * inv) + zp, clamped; NaN -> qmin (Note [QGEMM epilogue] uses the same).
inline float quantize_value(float x, float inv, float zp, QRange r) {
  float q = std::nearbyint(x * inv) + zp;
  if (!(q >= r.qmin)) q = r.qmin;
  if (q > r.qmax) q = r.qmax;
  return q;
}

bool use_avx512() {
#if defined(NN_CORE_X86)
  return active_isa() == Isa::Avx512;
#else
  return false;
#endif
}

bool use_avx2() {
#if defined(NN_CORE_X86)
  return active_isa() == Isa::Avx2;
#else
  return false;
#endif
}

// q[0, n) from x[0, n): the AVX-512 or AVX2 loop when active (same results), else scalar.
template <typename Q>
void quantize_span(const float* x, Q* q, int64_t n, float inv, float zp, QRange r) {
#if defined(NN_CORE_X86)
  if (use_avx512()) {
    if constexpr (std::is_same_v<Q, uint8_t>) return quantize_u8_avx512(x, n, inv, zp, r.qmax, q);
    else return quantize_s8_avx512(x, n, inv, zp, q);
  }
  if (use_avx2()) {
    if constexpr (std::is_same_v<Q, uint8_t>) return quantize_u8_avx2(x, n, inv, zp, r.qmax, q);
    else return quantize_s8_avx2(x, n, inv, zp, q);
  }
#endif
  for (int64_t i = 0; i < n; ++i) q[i] = static_cast<Q>(quantize_value(x[i], inv, zp, r));
}

template <typename Q>
void quantize_loop(const float* x, Q* q, int64_t n, float inv, float zp, QRange r) {
  parallel_for(0, n, 1 << 14, [&](int64_t i0, int64_t i1) { quantize_span(x + i0, q + i0, i1 - i0, inv, zp, r); });
}

template <typename Q>
void quantize_channels(const float* xp, Q* qp, const QuantizeParams& p, QRange r) {
  const int64_t C = p.channels, inner = p.inner;
  const float* s = p.scales.data<float>();
  const int32_t* z = p.zero_points.data<int32_t>();
  parallel_for(0, p.outer * C, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, inner)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t c = b % C;
      const float inv = 1.0f / s[c], zp = static_cast<float>(z[c]);
      quantize_span(xp + b * inner, qp + b * inner, inner, inv, zp, r);
    }
  });
}

template <typename Q>
void dequantize_loop(const Q* q, float* out, int64_t outer, int64_t C, int64_t inner, const float* s,
                     const int32_t* z, bool per_channel) {
  parallel_for(0, outer * C, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, inner)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t c = per_channel ? b % C : 0;
      for (int64_t i = b * inner; i < (b + 1) * inner; ++i)
        out[i] = static_cast<float>(static_cast<int32_t>(q[i]) - z[c]) * s[c];
    }
  });
}

void quantize_kernel(OpId op, const Tensor& in, const Tensor& out, const QuantizeParams& p) {
  if (op == OpId::dequantize || op == OpId::dequantize_per_channel) {
    const bool per_channel = p.scales.defined();
    // Per tensor: one "channel" per element, as (numel, 1, 1).
    const float* s = per_channel ? p.scales.data<float>() : &p.scale;
    const int32_t* z = per_channel ? p.zero_points.data<int32_t>() : &p.zero_point;
    const int64_t outer = per_channel ? p.outer : in.numel(), C = per_channel ? p.channels : 1;
    const int64_t inner = per_channel ? p.inner : 1;
    if (in.dtype() == DType::UInt8) dequantize_loop(in.data<uint8_t>(), out.data<float>(), outer, C, inner, s, z, per_channel);
    else dequantize_loop(in.data<int8_t>(), out.data<float>(), outer, C, inner, s, z, per_channel);
    return;
  }
  const QRange r = qrange_of(out.dtype());
  const float* xp = in.data<float>();
  if (op == OpId::quantize_per_channel) {
    if (out.dtype() == DType::UInt8) quantize_channels(xp, out.data<uint8_t>(), p, r);
    else quantize_channels(xp, out.data<int8_t>(), p, r);
    return;
  }
  const float inv = 1.0f / p.scale, zp = static_cast<float>(p.zero_point);
  if (out.dtype() == DType::UInt8) quantize_loop(xp, out.data<uint8_t>(), in.numel(), inv, zp, r);
  else quantize_loop(xp, out.data<int8_t>(), in.numel(), inv, zp, r);
}

bool quantize_rows_kernel(const Tensor& x, const Tensor& q, const Tensor& scales, const Tensor& zero_points) {
  const int64_t M = x.sizes()[0], K = x.sizes()[1];
  const float* xp = x.data<float>();
  uint8_t* qp = q.data<uint8_t>();
  float* sp = scales.data<float>();
  int32_t* zp = zero_points.data<int32_t>();
  const float qmax = static_cast<float>(gemm::qgemm_dynamic_qmax());  // 255, or 127 on the AVX2 GEMM
  const QRange range{0.0f, qmax};
  std::atomic<bool> bad{false};
  parallel_for(0, M, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, K)), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* row = xp + m * K;
      float lo = 0.0f, hi = 0.0f;
      bool finite = true;
#if defined(NN_CORE_X86)
      if (use_avx512() || use_avx2()) {
        bool nan = false;
        if (use_avx512()) row_minmax_avx512(row, K, &lo, &hi, &nan);
        else row_minmax_avx2(row, K, &lo, &hi, &nan);
        finite = !nan && std::isfinite(lo) && std::isfinite(hi);
      } else
#endif
      {
        for (int64_t k = 0; k < K; ++k) {
          lo = std::min(lo, row[k]);
          hi = std::max(hi, row[k]);
          finite = finite && std::isfinite(row[k]);
        }
      }
      float scale = (hi - lo) / qmax;
      if (!finite || !std::isfinite(scale)) bad.store(true);
      if (!(scale >= std::numeric_limits<float>::min())) scale = hi == lo ? 1.0f : std::numeric_limits<float>::min();
      const float inv = 1.0f / scale;
      const float z = quantize_value(-lo, inv, 0.0f, range);
      sp[m] = scale;
      zp[m] = static_cast<int32_t>(z);
      quantize_span(row, qp + m * K, K, inv, z, range);
    }
  });
  return !bad.load();
}

QParamsCheck qparams_kernel(const Tensor& scales, const Tensor& zero_points, const Tensor& scales_out,
                            const Tensor& zero_points_out, int64_t zp_min, int64_t zp_max) {
  const int64_t C = scales.numel();
  const double* s = scales.data<double>();
  float* so = scales_out.data<float>();
  const int64_t* z = zero_points.defined() ? zero_points.data<int64_t>() : nullptr;
  int32_t* zo = z != nullptr ? zero_points_out.data<int32_t>() : nullptr;
  for (int64_t c = 0; c < C; ++c) {
    if (!valid_qscale(s[c])) return {c, true, s[c], 0};
    so[c] = static_cast<float>(s[c]);
    if (z == nullptr) continue;
    if (zp_min <= zp_max && (z[c] < zp_min || z[c] > zp_max)) return {c, false, s[c], z[c]};
    zo[c] = static_cast<int32_t>(z[c]);
  }
  return {};
}

}  // namespace

void register_quantize_kernels(KernelRegistry& r) {
  r.quantize.set(OpId::quantize_per_tensor, DeviceType::CPU, &quantize_kernel);
  r.quantize.set(OpId::quantize_per_channel, DeviceType::CPU, &quantize_kernel);
  r.quantize.set(OpId::dequantize, DeviceType::CPU, &quantize_kernel);
  r.quantize.set(OpId::dequantize_per_channel, DeviceType::CPU, &quantize_kernel);
  r.quantize_rows.set(OpId::quantize_rows, DeviceType::CPU, &quantize_rows_kernel);
  r.qparams.set(DeviceType::CPU, &qparams_kernel);
}

}  // namespace nn::cpu
