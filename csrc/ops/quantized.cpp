// quantized.cpp — int8 quantization ops (see ops/quantized_ops.h for the formulas):
// argument checks, output allocation, and the loops / GEMM calls. Element loops are
// plain C++ over contiguous float32 copies, threaded with parallel_for; the matrix
// work goes through gemm::qgemm (cpu/gemm/qgemm.h). No autograd (not differentiable).
//
// Layouts: quantize/dequantize keep x's shape and write contiguous outputs; per-channel
// parameters index dim `axis`, viewed as (outer, C, inner). Linear: x (..., K) ->
// (..., N), weight (N, K). Conv: NCHW, weight (Cout, C*kh*kw) with k = (c*kh + i)*kw + j.
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/parallel.h"
#include "cpu/cpu_features.h"
#include "cpu/quantize_kernels.h"
#include "ops/internal.h"
#include "ops/quantized_ops.h"

namespace nn {
namespace {

struct QRange {
  float qmin, qmax;
};

QRange qrange(DType dtype, const char* op) {
  if (dtype == DType::UInt8) return {0.0f, 255.0f};
  if (dtype == DType::Int8) return {-128.0f, 127.0f};
  throw DTypeError(str(op, ": quantized dtype must be uint8 or int8, got ", dtype));
}

// nearbyint(x * inv) + zp, clamped; NaN -> qmin (Note [QGEMM epilogue] uses the same).
inline float quantize_value(float x, float inv, float zp, QRange r) {
  float q = std::nearbyint(x * inv) + zp;
  if (!(q >= r.qmin)) q = r.qmin;
  if (q > r.qmax) q = r.qmax;
  return q;
}

void check_scale(double scale, const char* op) {
  NN_CHECK(std::isfinite(scale) && scale > 0 && static_cast<float>(scale) > 0 &&
               std::isfinite(1.0f / static_cast<float>(scale)),
           ValueError, op, ": scale must be a finite positive float32 value, got ", scale);
}

void check_zero_point(int64_t zp, QRange r, DType dtype, const char* op) {
  NN_CHECK(zp >= r.qmin && zp <= r.qmax, ValueError, op, ": zero_point ", zp, " is outside the range of ",
           dtype, " [", r.qmin, ", ", r.qmax, "]");
}

Tensor float32_contiguous(const Tensor& x, const char* op) {
  NN_CHECK(is_floating(x.dtype()), DTypeError, op, ": expected a floating-point input, got ", x.dtype());
  NN_CHECK(x.device().type == DeviceType::CPU, DeviceError, op, ": only CPU tensors are supported");
  return detail::contiguous_raw(detail::cast_raw(x, DType::Float32));
}

bool use_avx512() {
#if defined(NN_CORE_X86)
  return cpu::active_isa() == cpu::Isa::Avx512;
#else
  return false;
#endif
}

// q[0, n) from x[0, n): the AVX-512 loop when active (same results), else scalar.
template <typename Q>
void quantize_span(const float* x, Q* q, int64_t n, float inv, float zp, QRange r) {
#if defined(NN_CORE_X86)
  if (use_avx512()) {
    if constexpr (std::is_same_v<Q, uint8_t>) return cpu::quantize_u8_avx512(x, n, inv, zp, q);
    else return cpu::quantize_s8_avx512(x, n, inv, zp, q);
  }
#endif
  for (int64_t i = 0; i < n; ++i) q[i] = static_cast<Q>(quantize_value(x[i], inv, zp, r));
}

template <typename Q>
void quantize_loop(const float* x, Q* q, int64_t n, float inv, float zp, QRange r) {
  parallel_for(0, n, 1 << 14, [&](int64_t i0, int64_t i1) { quantize_span(x + i0, q + i0, i1 - i0, inv, zp, r); });
}

// (outer, C, inner) of x around axis.
std::array<int64_t, 3> around_axis(const Shape& s, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
  return {outer, s[axis], inner};
}

// Per-channel parameters as float32 scales and int32 zero points (C values each).
void channel_params(const Tensor& scales, const Tensor& zero_points, int64_t C, const char* op,
                    std::vector<float>& s, std::vector<int32_t>& z, const QRange* r, DType dtype) {
  NN_CHECK(scales.dim() == 1 && scales.sizes()[0] == C, ShapeError, op, ": scales must have shape (", C,
           ",) (the size of the channel axis), got ", scales.sizes());
  NN_CHECK(zero_points.dim() == 1 && zero_points.sizes()[0] == C, ShapeError, op,
           ": zero_points must have shape (", C, ",) (the size of the channel axis), got ", zero_points.sizes());
  NN_CHECK(is_floating(scales.dtype()), DTypeError, op, ": scales must be floating point, got ", scales.dtype());
  NN_CHECK(!is_floating(zero_points.dtype()) && zero_points.dtype() != DType::Bool, DTypeError, op,
           ": zero_points must be integers, got ", zero_points.dtype());
  Tensor sd = detail::contiguous_raw(detail::cast_raw(scales, DType::Float64));
  Tensor zd = detail::contiguous_raw(detail::cast_raw(zero_points, DType::Int64));
  s.resize(C);
  z.resize(C);
  for (int64_t c = 0; c < C; ++c) {
    const double v = sd.data<double>()[c];
    check_scale(v, op);
    s[c] = static_cast<float>(v);
    const int64_t zp = zd.data<int64_t>()[c];
    if (r != nullptr) check_zero_point(zp, *r, dtype, op);
    z[c] = static_cast<int32_t>(zp);
  }
}

gemm::Activation parse_act(const std::string& name, const char* op) {
  if (name == "none") return gemm::Activation::None;
  if (name == "relu") return gemm::Activation::Relu;
  if (name == "gelu") return gemm::Activation::Gelu;
  throw ValueError(str(op, ": activation must be 'none', 'relu' or 'gelu', got '", name, "'"));
}

gemm::QOutput out_kind(DType dtype, const char* op) {
  if (dtype == DType::Float32) return gemm::QOutput::Float32;
  if (dtype == DType::UInt8) return gemm::QOutput::UInt8;
  if (dtype == DType::Int8) return gemm::QOutput::Int8;
  if (dtype == DType::Int32) return gemm::QOutput::Int32;
  throw DTypeError(str(op, ": output dtype must be float32, uint8 or int8, got ", dtype));
}

Tensor bias_f32(const Tensor& bias, int64_t N, const char* op) {
  if (!bias.defined()) return bias;
  NN_CHECK(bias.dim() == 1 && bias.sizes()[0] == N, ShapeError, op, ": bias must have shape (", N,
           ",) (out_features), got ", bias.sizes());
  NN_CHECK(is_floating(bias.dtype()), DTypeError, op, ": bias must be floating point, got ", bias.dtype());
  return detail::contiguous_raw(detail::cast_raw(bias, DType::Float32));
}

void check_qweight(const QWeight& w, const char* op) {
  NN_CHECK(w != nullptr, ValueError, op, ": the packed weight is None");
}

void set_requant(gemm::QEpilogue& ep, DType out_dtype, double out_scale, int64_t out_zp, const char* op) {
  ep.output = out_kind(out_dtype, op);
  NN_CHECK(ep.output != gemm::QOutput::Int32, DTypeError, op, ": output dtype must be float32, uint8 or int8");
  if (ep.output == gemm::QOutput::Float32) return;
  check_scale(out_scale, op);
  check_zero_point(out_zp, qrange(out_dtype, op), out_dtype, op);
  ep.out_scale = static_cast<float>(out_scale);
  ep.out_zero_point = static_cast<int32_t>(out_zp);
}

// The epilogue of the static ops (quantized_linear, quantized_conv2d): a uint8 input
// quantized per tensor with (x_scale, x_zero_point), n output columns with an optional
// bias (converted to float32 into *bias_holder, which must outlive the GEMM call), the
// activation and the requantization of the output. Validates every parameter.
gemm::QEpilogue static_input_epilogue(double x_scale, int64_t x_zero_point, const Tensor& bias, int64_t n,
                                      const std::string& activation, DType out_dtype, double out_scale,
                                      int64_t out_zero_point, const char* op, Tensor* bias_holder) {
  check_scale(x_scale, op);
  check_zero_point(x_zero_point, {0.0f, 255.0f}, DType::UInt8, op);
  gemm::QEpilogue ep;
  ep.act = parse_act(activation, op);
  set_requant(ep, out_dtype, out_scale, out_zero_point, op);
  ep.a_scale = static_cast<float>(x_scale);
  ep.a_zero_point = static_cast<int32_t>(x_zero_point);
  *bias_holder = bias_f32(bias, n, op);
  if (bias_holder->defined()) ep.bias = bias_holder->data<float>();
  return ep;
}

// Rows of x (..., K) as a contiguous (M, K) matrix of the same dtype.
Tensor rows_of(const Tensor& x, int64_t K) {
  Tensor c = detail::contiguous_raw(x);
  const int64_t M = K == 0 ? shape_numel(Shape(x.sizes().begin(), x.sizes().end() - 1)) : x.numel() / K;
  return make_view(c, {M, K}, {K, 1}, c.offset());
}

Shape with_last(const Shape& s, int64_t n) {
  Shape out(s.begin(), s.end() - 1);
  out.push_back(n);
  return out;
}

}  // namespace

Tensor native_quantize_per_tensor(const Tensor& x, double scale, int64_t zero_point, DType dtype) {
  const char* op = "quantize_per_tensor";
  const QRange r = qrange(dtype, op);
  check_scale(scale, op);
  check_zero_point(zero_point, r, dtype, op);
  Tensor xf = float32_contiguous(x, op);
  Tensor q = empty(x.sizes(), dtype);
  const float inv = 1.0f / static_cast<float>(scale), zp = static_cast<float>(zero_point);
  if (dtype == DType::UInt8) quantize_loop(xf.data<float>(), q.data<uint8_t>(), x.numel(), inv, zp, r);
  else quantize_loop(xf.data<float>(), q.data<int8_t>(), x.numel(), inv, zp, r);
  return q;
}

Tensor native_quantize_per_channel(const Tensor& x, const Tensor& scales, const Tensor& zero_points, int64_t axis,
                            DType dtype) {
  const char* op = "quantize_per_channel";
  const QRange r = qrange(dtype, op);
  NN_CHECK(x.dim() >= 1, ShapeError, op, ": input must have at least 1 dimension, got a 0-dim tensor");
  axis = wrap_dim(axis, x.dim(), op);
  const auto [outer, C, inner] = around_axis(x.sizes(), axis);
  std::vector<float> s;
  std::vector<int32_t> z;
  channel_params(scales, zero_points, C, op, s, z, &r, dtype);
  Tensor xf = float32_contiguous(x, op);
  Tensor q = empty(x.sizes(), dtype);
  const float* xp = xf.data<float>();
  parallel_for(0, outer * C, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, inner)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t c = b % C;
      const float inv = 1.0f / s[c], zp = static_cast<float>(z[c]);
      if (dtype == DType::UInt8) quantize_span(xp + b * inner, q.data<uint8_t>() + b * inner, inner, inv, zp, r);
      else quantize_span(xp + b * inner, q.data<int8_t>() + b * inner, inner, inv, zp, r);
    }
  });
  return q;
}

namespace {
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

Tensor dequantize_impl(const Tensor& q, const std::vector<float>& s, const std::vector<int32_t>& z, int64_t outer,
                       int64_t C, int64_t inner, bool per_channel, const char* op) {
  NN_CHECK(q.dtype() == DType::UInt8 || q.dtype() == DType::Int8, DTypeError, op,
           ": expected a uint8 or int8 tensor, got ", q.dtype());
  Tensor qc = detail::contiguous_raw(q);
  Tensor out = empty(q.sizes(), DType::Float32);
  if (q.dtype() == DType::UInt8)
    dequantize_loop(qc.data<uint8_t>(), out.data<float>(), outer, C, inner, s.data(), z.data(), per_channel);
  else
    dequantize_loop(qc.data<int8_t>(), out.data<float>(), outer, C, inner, s.data(), z.data(), per_channel);
  return out;
}
}  // namespace

Tensor native_dequantize_per_tensor(const Tensor& q, double scale, int64_t zero_point) {
  const char* op = "dequantize";
  check_scale(scale, op);
  NN_CHECK(zero_point >= -128 && zero_point <= 255, ValueError, op, ": zero_point ", zero_point,
           " is outside [-128, 255]");
  return dequantize_impl(q, {static_cast<float>(scale)}, {static_cast<int32_t>(zero_point)}, q.numel(), 1, 1, false,
                         op);
}

Tensor native_dequantize_per_channel(const Tensor& q, const Tensor& scales, const Tensor& zero_points, int64_t axis) {
  const char* op = "dequantize_per_channel";
  NN_CHECK(q.dim() >= 1, ShapeError, op, ": input must have at least 1 dimension, got a 0-dim tensor");
  axis = wrap_dim(axis, q.dim(), op);
  const auto [outer, C, inner] = around_axis(q.sizes(), axis);
  std::vector<float> s;
  std::vector<int32_t> z;
  channel_params(scales, zero_points, C, op, s, z, nullptr, q.dtype());
  return dequantize_impl(q, s, z, outer, C, inner, true, op);
}

std::tuple<Tensor, Tensor, Tensor> native_quantize_rows(const Tensor& x) {
  const char* op = "quantize_rows";
  NN_CHECK(x.dim() >= 1, ShapeError, op, ": input must have at least 1 dimension, got a 0-dim tensor");
  const int64_t K = x.sizes().back();
  Tensor xf = rows_of(float32_contiguous(x, op), K);
  const int64_t M = xf.sizes()[0];
  Tensor q = empty(x.sizes(), DType::UInt8);
  Tensor scales = empty({M}, DType::Float32), zps = empty({M}, DType::Int32);
  const float* xp = xf.data<float>();
  uint8_t* qp = q.data<uint8_t>();
  float* sp = scales.data<float>();
  int32_t* zp = zps.data<int32_t>();
  std::atomic<bool> bad{false};
  parallel_for(0, M, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, K)), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* row = xp + m * K;
      float lo = 0.0f, hi = 0.0f;
      bool finite = true;
#if defined(NN_CORE_X86)
      if (use_avx512()) {
        bool nan = false;
        cpu::row_minmax_avx512(row, K, &lo, &hi, &nan);
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
      float scale = (hi - lo) / 255.0f;
      if (!finite || !std::isfinite(scale)) bad.store(true);
      if (!(scale >= std::numeric_limits<float>::min())) scale = hi == lo ? 1.0f : std::numeric_limits<float>::min();
      const float inv = 1.0f / scale;
      const float z = quantize_value(-lo, inv, 0.0f, {0.0f, 255.0f});
      sp[m] = scale;
      zp[m] = static_cast<int32_t>(z);
      quantize_span(row, qp + m * K, K, inv, z, {0.0f, 255.0f});
    }
  });
  NN_CHECK(!bad.load(), ValueError, op, ": input of shape ", x.sizes(),
           " has non-finite values (or a row range that overflows float32); rows cannot be quantized");
  return {q, scales, zps};
}

QWeight pack_linear_weight(const Tensor& w, const Tensor& scales) {
  const char* op = "pack_linear_weight";
  NN_CHECK(w.dim() == 2, ShapeError, op, ": weight must be 2-D (out_features, in_features), got shape ", w.sizes());
  NN_CHECK(w.dtype() == DType::Int8, DTypeError, op, ": weight must be int8 (symmetric), got ", w.dtype());
  const int64_t N = w.sizes()[0], K = w.sizes()[1];
  NN_CHECK(K <= gemm::kQgemmMaxK, ValueError, op, ": in_features ", K, " exceeds ", gemm::kQgemmMaxK,
           " (int32 accumulation must stay exact)");
  NN_CHECK(scales.dim() <= 1 && (scales.numel() == 1 || scales.numel() == N), ShapeError, op,
           ": scales must hold 1 value (per tensor) or out_features = ", N, " values (per channel), got shape ",
           scales.sizes());
  NN_CHECK(is_floating(scales.dtype()), DTypeError, op, ": scales must be floating point, got ", scales.dtype());
  Tensor sd = detail::contiguous_raw(detail::cast_raw(scales, DType::Float64));
  std::vector<float> s(static_cast<size_t>(scales.numel()));
  for (size_t i = 0; i < s.size(); ++i) {
    check_scale(sd.data<double>()[i], op);
    s[i] = static_cast<float>(sd.data<double>()[i]);
  }
  Tensor wc = detail::nonnegative_strides(w);
  // B = W^T: B[k, n] = W[n, k].
  return gemm::pack_qweight(K, N, wc.data<int8_t>(), wc.strides()[1], wc.strides()[0], s);
}

Tensor unpack_linear_weight(const QWeight& w) {
  check_qweight(w, "unpack_linear_weight");
  Tensor out = empty({w->N(), w->K()}, DType::Int8);
  int8_t* p = out.data<int8_t>();
  for (int64_t n = 0; n < w->N(); ++n)
    for (int64_t k = 0; k < w->K(); ++k) p[n * w->K() + k] = w->at(k, n);
  return out;
}

Tensor qgemm(const Tensor& a, const QWeight& w, double a_scale, int64_t a_zero_point, const Tensor& a_scales,
             const Tensor& a_zero_points, const Tensor& bias, const std::string& activation,
             const std::string& output, double out_scale, int64_t out_zero_point, bool reference) {
  const char* op = "qgemm";
  check_qweight(w, op);
  NN_CHECK(a.dim() == 2, ShapeError, op, ": a must be 2-D (M, K), got shape ", a.sizes());
  NN_CHECK(a.dtype() == DType::UInt8, DTypeError, op, ": a must be uint8, got ", a.dtype());
  const int64_t M = a.sizes()[0], K = a.sizes()[1], N = w->N();
  NN_CHECK(K == w->K(), ShapeError, op, ": a of shape ", a.sizes(), " and a packed weight of (N, K) = (", N, ", ",
           w->K(), ") are incompatible (K must match)");
  gemm::QEpilogue ep;
  ep.act = parse_act(activation, op);
  DType out_dtype;
  if (output == "float32") out_dtype = DType::Float32;
  else if (output == "int32") out_dtype = DType::Int32;
  else if (output == "uint8") out_dtype = DType::UInt8;
  else if (output == "int8") out_dtype = DType::Int8;
  else throw ValueError(str(op, ": output must be 'float32', 'int32', 'uint8' or 'int8', got '", output, "'"));
  ep.output = out_kind(out_dtype, op);
  if (out_dtype == DType::UInt8 || out_dtype == DType::Int8) set_requant(ep, out_dtype, out_scale, out_zero_point, op);
  check_scale(a_scale, op);
  check_zero_point(a_zero_point, {0.0f, 255.0f}, DType::UInt8, op);
  ep.a_scale = static_cast<float>(a_scale);
  ep.a_zero_point = static_cast<int32_t>(a_zero_point);
  Tensor sa, za;
  if (a_scales.defined()) {
    NN_CHECK(a_scales.dim() == 1 && a_scales.sizes()[0] == M && a_zero_points.defined() &&
                 a_zero_points.dim() == 1 && a_zero_points.sizes()[0] == M,
             ShapeError, op, ": per-row a_scales and a_zero_points must both have shape (", M, ",)");
    sa = detail::contiguous_raw(detail::cast_raw(a_scales, DType::Float32));
    za = detail::contiguous_raw(detail::cast_raw(a_zero_points, DType::Int32));
    ep.a_scales = sa.data<float>();
    ep.a_zero_points = za.data<int32_t>();
  }
  Tensor b = bias_f32(bias, N, op);
  if (b.defined()) ep.bias = b.data<float>();
  Tensor ac = detail::nonnegative_strides(a);
  Tensor out = empty({M, N}, out_dtype);
  if (reference) {
    Tensor wt = unpack_linear_weight(w);  // (N, K): B[k, n] = wt[n*K + k]
    gemm::qgemm_ref(M, N, K, ac.data<uint8_t>(), ac.strides()[0], ac.strides()[1], wt.data<int8_t>(), 1, K,
                    w->scales, out.data_bytes(), N, 1, ep);
  } else {
    gemm::qgemm(M, ac.data<uint8_t>(), ac.strides()[0], ac.strides()[1], *w, out.data_bytes(), N, 1, ep);
  }
  return out;
}

Tensor native_quantized_linear_dynamic(const Tensor& x, const QWeight& w, const Tensor& bias, const std::string& activation) {
  const char* op = "quantized_linear_dynamic";
  check_qweight(w, op);
  NN_CHECK(x.dim() >= 1, ShapeError, op, ": input must have at least 1 dimension, got a 0-dim tensor");
  NN_CHECK(x.sizes().back() == w->K(), ShapeError, op, ": input shape ", x.sizes(), " and weight (", w->N(), ", ",
           w->K(), ") are incompatible (the input's last dim must equal in_features ", w->K(), ")");
  gemm::QEpilogue ep;
  ep.act = parse_act(activation, op);
  Tensor b = bias_f32(bias, w->N(), op);
  if (b.defined()) ep.bias = b.data<float>();
  auto [q, scales, zps] = quantize_rows(x);
  const int64_t K = w->K(), N = w->N();
  Tensor q2 = rows_of(q, K);
  const int64_t M = q2.sizes()[0];
  ep.a_scales = scales.data<float>();
  ep.a_zero_points = zps.data<int32_t>();
  Tensor out = empty(with_last(x.sizes(), N), DType::Float32);
  gemm::qgemm(M, q2.data<uint8_t>(), K, 1, *w, out.data_bytes(), N, 1, ep);
  return out;
}

Tensor native_quantized_linear(const Tensor& x, double x_scale, int64_t x_zero_point, const QWeight& w, const Tensor& bias,
                        const std::string& activation, DType out_dtype, double out_scale, int64_t out_zero_point) {
  const char* op = "quantized_linear";
  check_qweight(w, op);
  NN_CHECK(x.dtype() == DType::UInt8, DTypeError, op, ": input must be uint8 (quantized per tensor), got ",
           x.dtype());
  NN_CHECK(x.dim() >= 1 && x.sizes().back() == w->K(), ShapeError, op, ": input shape ", x.sizes(),
           " and weight (", w->N(), ", ", w->K(), ") are incompatible (the input's last dim must equal in_features)");
  Tensor b;
  const gemm::QEpilogue ep = static_input_epilogue(x_scale, x_zero_point, bias, w->N(), activation, out_dtype,
                                                   out_scale, out_zero_point, op, &b);
  Tensor x2 = rows_of(x, w->K());
  Tensor out = empty(with_last(x.sizes(), w->N()), out_dtype);
  gemm::qgemm(x2.sizes()[0], x2.data<uint8_t>(), w->K(), 1, *w, out.data_bytes(), w->N(), 1, ep);
  return out;
}

Tensor native_quantized_conv2d(const Tensor& x, double x_scale, int64_t x_zero_point, const QWeight& w, int64_t kh,
                        int64_t kw, const Tensor& bias, const std::vector<int64_t>& stride,
                        const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation,
                        const std::string& activation, DType out_dtype,
                        double out_scale, int64_t out_zero_point) {
  const char* op = "quantized_conv2d";
  check_qweight(w, op);
  NN_CHECK(x.dim() == 4, ShapeError, op, ": input must be 4-D (N, C, H, W), got shape ", x.sizes());
  NN_CHECK(x.dtype() == DType::UInt8, DTypeError, op, ": input must be uint8 (quantized per tensor), got ",
           x.dtype());
  NN_CHECK(kh >= 1 && kw >= 1, ValueError, op, ": kernel size must be >= 1, got (", kh, ", ", kw, ")");
  const auto st = detail::pair_arg(stride, op, "stride", 1);
  const auto pd = detail::pair_arg(padding, op, "padding", 0);
  const auto dl = detail::pair_arg(dilation, op, "dilation", 1);
  const int64_t N = x.sizes()[0], C = x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  const int64_t K = C * kh * kw, Cout = w->N();
  NN_CHECK(w->K() == K, ShapeError, op, ": input shape ", x.sizes(), " with a ", kh, "x", kw,
           " kernel needs a weight with in_channels*kh*kw = ", K, " columns, the packed weight has ", w->K(),
           " (groups = 1 only)");
  const int64_t span_h = H + 2 * pd[0] - dl[0] * (kh - 1) - 1, span_w = W + 2 * pd[1] - dl[1] * (kw - 1) - 1;
  NN_CHECK(span_h >= 0 && span_w >= 0, ValueError, op, ": kernel (", kh, ", ", kw, ") with dilation (", dl[0],
           ", ", dl[1], ") is larger than the padded input (", H + 2 * pd[0], ", ", W + 2 * pd[1], ")");
  const int64_t OH = span_h / st[0] + 1, OW = span_w / st[1] + 1, P = OH * OW;
  Tensor b;
  const gemm::QEpilogue ep = static_input_epilogue(x_scale, x_zero_point, bias, Cout, activation, out_dtype,
                                                   out_scale, out_zero_point, op, &b);
  Tensor xc = detail::contiguous_raw(x);
  Tensor out = empty({N, Cout, OH, OW}, out_dtype);
  const int64_t esize = out_dtype == DType::Float32 ? 4 : 1;
  std::vector<uint8_t> cols(static_cast<size_t>(P * K));
  const uint8_t pad = static_cast<uint8_t>(x_zero_point);  // real 0
  for (int64_t n = 0; n < N; ++n) {
    const uint8_t* xn = xc.data<uint8_t>() + n * C * H * W;
    // im2col: row p = (oh, ow), column k = (c*kh + i)*kw + j.
    parallel_for(0, P, 64, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t oh = p / OW, ow = p % OW;
        uint8_t* row = cols.data() + p * K;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t i = 0; i < kh; ++i) {
            const int64_t ih = oh * st[0] - pd[0] + i * dl[0];
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t iw = ow * st[1] - pd[1] + j * dl[1];
              const bool inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
              row[(c * kh + i) * kw + j] = inside ? xn[(c * H + ih) * W + iw] : pad;
            }
          }
      }
    });
    // C[p, co] -> y[n, co, p]: row stride 1, column stride P.
    gemm::qgemm(P, cols.data(), K, 1, *w, out.data_bytes() + n * Cout * P * esize, 1, P, ep);
  }
  return out;
}

}  // namespace nn
