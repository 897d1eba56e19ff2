// quantized.cpp — int8 quantization ops (see ops/quantized_ops.h for the formulas):
// argument checks, output allocation and dispatch to the int8 kernels of the registry
// (kernels/quantized.h; CPU: cpu/quantize_kernels.cpp, cpu/qgemm_kernels.cpp). Data-
// dependent checks (per-channel scales and zero points, non-finite rows) run in the
// kernels; the ops raise after them. No autograd (not differentiable).
//
// Layouts: quantize/dequantize keep x's shape and write contiguous outputs; per-channel
// parameters index dim `axis`, viewed as (outer, C, inner). Linear: x (..., K) ->
// (..., N), weight (N, K). Conv: NCHW, weight (Cout, C*kh*kw) with k = (c*kh + i)*kw + j.
#include <array>
#include <cmath>

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

void check_scale(double scale, const char* op) {
  NN_CHECK(valid_qscale(scale), ValueError, op, ": scale must be a finite positive float32 value, got ", scale);
}

void check_zero_point(int64_t zp, QRange r, DType dtype, const char* op) {
  NN_CHECK(zp >= r.qmin && zp <= r.qmax, ValueError, op, ": zero_point ", zp, " is outside the range of ",
           dtype, " [", r.qmin, ", ", r.qmax, "]");
}

Tensor float32_contiguous(const Tensor& x, const char* op) {
  NN_CHECK(is_floating(x.dtype()), DTypeError, op, ": expected a floating-point input, got ", x.dtype());
  return detail::contiguous_raw(detail::cast_raw(x, DType::Float32));
}

// (outer, C, inner) of x around axis.
std::array<int64_t, 3> around_axis(const Shape& s, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
  return {outer, s[axis], inner};
}

// Per-channel parameters of data x, as float32 scales and int32 zero points (C values
// each) in p, checked by the device's kernel (zero points only when r is given).
void channel_params(const Tensor& x, const Tensor& scales, const Tensor& zero_points, int64_t C, const char* op,
                    QuantizeParams& p, const QRange* r, DType dtype) {
  NN_CHECK(scales.dim() == 1 && scales.sizes()[0] == C, ShapeError, op, ": scales must have shape (", C,
           ",) (the size of the channel axis), got ", scales.sizes());
  NN_CHECK(zero_points.dim() == 1 && zero_points.sizes()[0] == C, ShapeError, op,
           ": zero_points must have shape (", C, ",) (the size of the channel axis), got ", zero_points.sizes());
  NN_CHECK(is_floating(scales.dtype()), DTypeError, op, ": scales must be floating point, got ", scales.dtype());
  NN_CHECK(!is_floating(zero_points.dtype()) && zero_points.dtype() != DType::Bool, DTypeError, op,
           ": zero_points must be integers, got ", zero_points.dtype());
  detail::check_same_device(x, scales, op);
  detail::check_same_device(x, zero_points, op);
  Tensor sd = detail::contiguous_raw(detail::cast_raw(scales, DType::Float64));
  Tensor zd = detail::contiguous_raw(detail::cast_raw(zero_points, DType::Int64));
  p.scales = empty({C}, DType::Float32, x.device());
  p.zero_points = empty({C}, DType::Int32, x.device());
  const QParamsCheck bad = kernels().qparams.get(op, x.device())(
      sd, zd, p.scales, p.zero_points, r != nullptr ? static_cast<int64_t>(r->qmin) : 1,
      r != nullptr ? static_cast<int64_t>(r->qmax) : 0);
  if (bad.channel < 0) return;
  if (bad.bad_scale) check_scale(bad.scale, op);
  check_zero_point(bad.zero_point, *r, dtype, op);
}

QActivation parse_act(const std::string& name, const char* op) {
  if (name == "none") return QActivation::None;
  if (name == "relu") return QActivation::Relu;
  if (name == "gelu") return QActivation::Gelu;
  throw ValueError(str(op, ": activation must be 'none', 'relu' or 'gelu', got '", name, "'"));
}

void check_out_dtype(DType dtype, const char* op) {
  if (dtype == DType::Float32 || dtype == DType::UInt8 || dtype == DType::Int8 || dtype == DType::Int32) return;
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

// The packed weight lives on the device of the data it multiplies.
void check_qweight_device(const QWeight& w, const Tensor& x, const char* op) {
  NN_CHECK(w->device() == x.device(), DeviceError, op, ": the packed weight is on ", w->device(), " but the input is on ",
           x.device());
}

void set_requant(QGemmEpilogue& ep, DType out_dtype, double out_scale, int64_t out_zp, const char* op) {
  check_out_dtype(out_dtype, op);
  NN_CHECK(out_dtype != DType::Int32, DTypeError, op, ": output dtype must be float32, uint8 or int8");
  if (out_dtype == DType::Float32) return;
  check_scale(out_scale, op);
  check_zero_point(out_zp, qrange(out_dtype, op), out_dtype, op);
  ep.out_scale = static_cast<float>(out_scale);
  ep.out_zero_point = static_cast<int32_t>(out_zp);
}

// The epilogue of the static ops (quantized_linear, quantized_conv2d): a uint8 input
// quantized per tensor with (x_scale, x_zero_point), n output columns with an optional
// bias (converted to float32), the activation and the requantization of the output.
// Validates every parameter.
QGemmEpilogue static_input_epilogue(double x_scale, int64_t x_zero_point, const Tensor& bias, int64_t n,
                                    const std::string& activation, DType out_dtype, double out_scale,
                                    int64_t out_zero_point, const char* op) {
  check_scale(x_scale, op);
  check_zero_point(x_zero_point, {0.0f, 255.0f}, DType::UInt8, op);
  QGemmEpilogue ep;
  ep.act = parse_act(activation, op);
  set_requant(ep, out_dtype, out_scale, out_zero_point, op);
  ep.a_scale = static_cast<float>(x_scale);
  ep.a_zero_point = static_cast<int32_t>(x_zero_point);
  ep.bias = bias_f32(bias, n, op);
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

// A contiguous (..., n) output seen as the (M, n) matrix the GEMM writes.
Tensor as_matrix(const Tensor& out, int64_t n) {
  const int64_t m = n == 0 ? shape_numel(Shape(out.sizes().begin(), out.sizes().end() - 1)) : out.numel() / n;
  return make_view(out, {m, n}, {n, 1}, out.offset());
}

}  // namespace

Tensor native_quantize_per_tensor(const Tensor& x, double scale, int64_t zero_point, DType dtype) {
  const char* op = "quantize_per_tensor";
  const QRange r = qrange(dtype, op);
  check_scale(scale, op);
  check_zero_point(zero_point, r, dtype, op);
  const QuantizeKernel kernel = kernels().quantize.get(OpId::quantize_per_tensor, x.device());
  Tensor xf = float32_contiguous(x, op);
  Tensor q = empty(x.sizes(), dtype, x.device());
  QuantizeParams p;
  p.scale = static_cast<float>(scale);
  p.zero_point = static_cast<int32_t>(zero_point);
  kernel(OpId::quantize_per_tensor, xf, q, p);
  return q;
}

Tensor native_quantize_per_channel(const Tensor& x, const Tensor& scales, const Tensor& zero_points, int64_t axis,
                            DType dtype) {
  const char* op = "quantize_per_channel";
  const QRange r = qrange(dtype, op);
  NN_CHECK(x.dim() >= 1, ShapeError, op, ": input must have at least 1 dimension, got a 0-dim tensor");
  axis = wrap_dim(axis, x.dim(), op);
  const auto [outer, C, inner] = around_axis(x.sizes(), axis);
  const QuantizeKernel kernel = kernels().quantize.get(OpId::quantize_per_channel, x.device());
  QuantizeParams p;
  channel_params(x, scales, zero_points, C, op, p, &r, dtype);
  p.outer = outer;
  p.channels = C;
  p.inner = inner;
  Tensor xf = float32_contiguous(x, op);
  Tensor q = empty(x.sizes(), dtype, x.device());
  kernel(OpId::quantize_per_channel, xf, q, p);
  return q;
}

namespace {
Tensor dequantize_impl(OpId id, const Tensor& q, const QuantizeParams& p, const char* op) {
  NN_CHECK(q.dtype() == DType::UInt8 || q.dtype() == DType::Int8, DTypeError, op,
           ": expected a uint8 or int8 tensor, got ", q.dtype());
  const QuantizeKernel kernel = kernels().quantize.get(id, q.device());
  Tensor qc = detail::contiguous_raw(q);
  Tensor out = empty(q.sizes(), DType::Float32, q.device());
  kernel(id, qc, out, p);
  return out;
}
}  // namespace

Tensor native_dequantize_per_tensor(const Tensor& q, double scale, int64_t zero_point) {
  const char* op = "dequantize";
  check_scale(scale, op);
  NN_CHECK(zero_point >= -128 && zero_point <= 255, ValueError, op, ": zero_point ", zero_point,
           " is outside [-128, 255]");
  QuantizeParams p;
  p.scale = static_cast<float>(scale);
  p.zero_point = static_cast<int32_t>(zero_point);
  return dequantize_impl(OpId::dequantize, q, p, op);
}

Tensor native_dequantize_per_channel(const Tensor& q, const Tensor& scales, const Tensor& zero_points, int64_t axis) {
  const char* op = "dequantize_per_channel";
  NN_CHECK(q.dim() >= 1, ShapeError, op, ": input must have at least 1 dimension, got a 0-dim tensor");
  axis = wrap_dim(axis, q.dim(), op);
  const auto [outer, C, inner] = around_axis(q.sizes(), axis);
  QuantizeParams p;
  channel_params(q, scales, zero_points, C, op, p, nullptr, q.dtype());
  p.outer = outer;
  p.channels = C;
  p.inner = inner;
  return dequantize_impl(OpId::dequantize_per_channel, q, p, op);
}

std::tuple<Tensor, Tensor, Tensor> native_quantize_rows(const Tensor& x) {
  const char* op = "quantize_rows";
  NN_CHECK(x.dim() >= 1, ShapeError, op, ": input must have at least 1 dimension, got a 0-dim tensor");
  const QuantizeRowsKernel kernel = kernels().quantize_rows.get(OpId::quantize_rows, x.device());
  const int64_t K = x.sizes().back();
  Tensor xf = rows_of(float32_contiguous(x, op), K);
  const int64_t M = xf.sizes()[0];
  Tensor q = empty(x.sizes(), DType::UInt8, x.device());
  Tensor scales = empty({M}, DType::Float32, x.device()), zps = empty({M}, DType::Int32, x.device());
  const bool finite = kernel(xf, as_matrix(q, K), scales, zps);
  NN_CHECK(finite, ValueError, op, ": input of shape ", x.sizes(),
           " has non-finite values (or a row range that overflows float32); rows cannot be quantized");
  return {q, scales, zps};
}

QWeight pack_linear_weight(const Tensor& w, const Tensor& scales) {
  const char* op = "pack_linear_weight";
  NN_CHECK(w.dim() == 2, ShapeError, op, ": weight must be 2-D (out_features, in_features), got shape ", w.sizes());
  NN_CHECK(w.dtype() == DType::Int8, DTypeError, op, ": weight must be int8 (symmetric), got ", w.dtype());
  const int64_t N = w.sizes()[0], K = w.sizes()[1];
  NN_CHECK(K <= kQgemmMaxK, ValueError, op, ": in_features ", K, " exceeds ", kQgemmMaxK,
           " (int32 accumulation must stay exact)");
  NN_CHECK(scales.dim() <= 1 && (scales.numel() == 1 || scales.numel() == N), ShapeError, op,
           ": scales must hold 1 value (per tensor) or out_features = ", N, " values (per channel), got shape ",
           scales.sizes());
  NN_CHECK(is_floating(scales.dtype()), DTypeError, op, ": scales must be floating point, got ", scales.dtype());
  detail::check_same_device(w, scales, op);
  const QPackKernel pack = kernels().qpack.get(op, w.device());
  Tensor sd = detail::contiguous_raw(detail::cast_raw(scales, DType::Float64));
  Tensor s = empty({scales.numel()}, DType::Float32, w.device());
  const QParamsCheck bad = kernels().qparams.get(op, w.device())(sd, Tensor(), s, Tensor(), 1, 0);
  if (bad.channel >= 0) check_scale(bad.scale, op);
  return pack(detail::nonnegative_strides(w), s);
}

Tensor unpack_linear_weight(const QWeight& w) {
  const char* op = "unpack_linear_weight";
  check_qweight(w, op);
  Tensor out = empty({w->N(), w->K()}, DType::Int8, w->device());
  kernels().qunpack.get(op, w->device())(*w, out);
  return out;
}

Tensor qgemm(const Tensor& a, const QWeight& w, double a_scale, int64_t a_zero_point, const Tensor& a_scales,
             const Tensor& a_zero_points, const Tensor& bias, const std::string& activation,
             const std::string& output, double out_scale, int64_t out_zero_point, bool reference) {
  const char* op = "qgemm";
  check_qweight(w, op);
  NN_CHECK(a.dim() == 2, ShapeError, op, ": a must be 2-D (M, K), got shape ", a.sizes());
  NN_CHECK(a.dtype() == DType::UInt8, DTypeError, op, ": a must be uint8, got ", a.dtype());
  check_qweight_device(w, a, op);
  const int64_t M = a.sizes()[0], K = a.sizes()[1], N = w->N();
  NN_CHECK(K == w->K(), ShapeError, op, ": a of shape ", a.sizes(), " and a packed weight of (N, K) = (", N, ", ",
           w->K(), ") are incompatible (K must match)");
  QGemmEpilogue ep;
  ep.act = parse_act(activation, op);
  DType out_dtype;
  if (output == "float32") out_dtype = DType::Float32;
  else if (output == "int32") out_dtype = DType::Int32;
  else if (output == "uint8") out_dtype = DType::UInt8;
  else if (output == "int8") out_dtype = DType::Int8;
  else throw ValueError(str(op, ": output must be 'float32', 'int32', 'uint8' or 'int8', got '", output, "'"));
  check_out_dtype(out_dtype, op);
  if (out_dtype == DType::UInt8 || out_dtype == DType::Int8) set_requant(ep, out_dtype, out_scale, out_zero_point, op);
  check_scale(a_scale, op);
  check_zero_point(a_zero_point, {0.0f, 255.0f}, DType::UInt8, op);
  ep.a_scale = static_cast<float>(a_scale);
  ep.a_zero_point = static_cast<int32_t>(a_zero_point);
  if (a_scales.defined()) {
    NN_CHECK(a_scales.dim() == 1 && a_scales.sizes()[0] == M && a_zero_points.defined() &&
                 a_zero_points.dim() == 1 && a_zero_points.sizes()[0] == M,
             ShapeError, op, ": per-row a_scales and a_zero_points must both have shape (", M, ",)");
    detail::check_same_device(a, a_scales, op);
    detail::check_same_device(a, a_zero_points, op);
    ep.a_scales = detail::contiguous_raw(detail::cast_raw(a_scales, DType::Float32));
    ep.a_zero_points = detail::contiguous_raw(detail::cast_raw(a_zero_points, DType::Int32));
  }
  ep.bias = bias_f32(bias, N, op);
  Tensor ac = detail::nonnegative_strides(a);
  Tensor out = empty({M, N}, out_dtype, a.device());
  const auto& table = reference ? kernels().qgemm_reference : kernels().qgemm;
  table.get(op, a.device())(ac, *w, out, ep);
  return out;
}

Tensor native_quantized_linear_dynamic(const Tensor& x, const QWeight& w, const Tensor& bias, const std::string& activation) {
  const char* op = "quantized_linear_dynamic";
  check_qweight(w, op);
  NN_CHECK(x.dim() >= 1, ShapeError, op, ": input must have at least 1 dimension, got a 0-dim tensor");
  NN_CHECK(x.sizes().back() == w->K(), ShapeError, op, ": input shape ", x.sizes(), " and weight (", w->N(), ", ",
           w->K(), ") are incompatible (the input's last dim must equal in_features ", w->K(), ")");
  check_qweight_device(w, x, op);
  QGemmEpilogue ep;
  ep.act = parse_act(activation, op);
  ep.bias = bias_f32(bias, w->N(), op);
  const QGemmKernel kernel = kernels().qgemm.get(op, x.device());
  auto [q, scales, zps] = quantize_rows(x);
  const int64_t K = w->K(), N = w->N();
  Tensor q2 = rows_of(q, K);
  ep.a_scales = scales;
  ep.a_zero_points = zps;
  Tensor out = empty(with_last(x.sizes(), N), DType::Float32, x.device());
  kernel(q2, *w, as_matrix(out, N), ep);
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
  check_qweight_device(w, x, op);
  const QGemmEpilogue ep = static_input_epilogue(x_scale, x_zero_point, bias, w->N(), activation, out_dtype,
                                                 out_scale, out_zero_point, op);
  const QGemmKernel kernel = kernels().qgemm.get(op, x.device());
  Tensor x2 = rows_of(x, w->K());
  Tensor out = empty(with_last(x.sizes(), w->N()), out_dtype, x.device());
  kernel(x2, *w, as_matrix(out, w->N()), ep);
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
  check_qweight_device(w, x, op);
  const int64_t span_h = H + 2 * pd[0] - dl[0] * (kh - 1) - 1, span_w = W + 2 * pd[1] - dl[1] * (kw - 1) - 1;
  NN_CHECK(span_h >= 0 && span_w >= 0, ValueError, op, ": kernel (", kh, ", ", kw, ") with dilation (", dl[0],
           ", ", dl[1], ") is larger than the padded input (", H + 2 * pd[0], ", ", W + 2 * pd[1], ")");
  const int64_t OH = span_h / st[0] + 1, OW = span_w / st[1] + 1;
  const QGemmEpilogue ep = static_input_epilogue(x_scale, x_zero_point, bias, Cout, activation, out_dtype,
                                                 out_scale, out_zero_point, op);
  const QConv2dKernel kernel = kernels().qconv2d.get(OpId::quantized_conv2d, x.device());
  Conv2dParams p;
  p.stride[0] = st[0], p.stride[1] = st[1];
  p.padding[0] = pd[0], p.padding[1] = pd[1];
  p.dilation[0] = dl[0], p.dilation[1] = dl[1];
  Tensor xc = detail::contiguous_raw(x);
  Tensor out = empty({N, Cout, OH, OW}, out_dtype, x.device());
  kernel(xc, *w, kh, kw, p, out, ep);
  return out;
}

}  // namespace nn
