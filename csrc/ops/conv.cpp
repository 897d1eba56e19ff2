// conv.cpp — conv2d (stride, padding incl. 'same'/'valid', dilation, groups, fused
// relu), conv1d (conv2d on a (N, C, 1, L) view) and conv_transpose2d, NCHW, PyTorch
// semantics. Kernels: cpu/conv_kernels.cpp (dispatch.h ConvForwardKernel & co).
//
// Three kernels serve both ops (Note [Conv adjoints]):
//   forward(x, w)         y = conv2d(x, w)
//   backward_input(g, w)  the adjoint in x: conv2d's dx, and conv_transpose2d's output
//   backward_weight(x, g) conv2d's dw; conv_transpose2d's dw is backward_weight(g, x)
// so conv_transpose2d's input gradient is conv2d(g, w).
//
// float32/float64 compute natively; float16/bfloat16 are cast to float32 around the op
// (Note [Half types]). Inputs of any strides are made contiguous first.
#include <array>

#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

namespace {


void check_conv_dtypes(const Tensor& x, const Tensor& w, const Tensor& bias, const char* op) {
  NN_CHECK(is_floating(x.dtype()), DTypeError, op, ": expected a floating-point input, got ", x.dtype());
  NN_CHECK(x.dtype() == w.dtype() && (!bias.defined() || bias.dtype() == x.dtype()), DTypeError, op,
           ": input, weight and bias must have one dtype, got ", x.dtype(), ", ", w.dtype(),
           bias.defined() ? str(", ", bias.dtype()) : std::string());
  detail::check_same_device(x, w, op);
  if (bias.defined()) detail::check_same_device(x, bias, op);
}

Tensor half_cast(const Tensor& t) { return t.defined() ? cast(t, DType::Float32) : t; }

// Per-channel sum over (N, H, W) of g (N, C, H, W): the bias gradient.
Tensor channel_sum(const Tensor& g) { return sum(g, {0, 2, 3}, false); }

}  // namespace

Tensor native_conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride_v,
              const std::vector<int64_t>& padding_v, const std::vector<int64_t>& dilation_v, int64_t groups,
              bool relu) {
  const char* op = "conv2d";
  NN_CHECK(input.dim() == 3 || input.dim() == 4, ShapeError, op,
           ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape ", input.sizes());
  if (input.dim() == 3) {
    return squeeze(conv2d(unsqueeze(input, 0), weight, bias, stride_v, padding_v, dilation_v, groups, relu),
                   Dims{0});
  }
  NN_CHECK(weight.dim() == 4, ShapeError, op, ": weight must be 4-D (out_channels, in_channels/groups, kH, kW), got ",
           weight.sizes());
  check_conv_dtypes(input, weight, bias, op);
  const auto stride = detail::pair_arg(stride_v, op, "stride", 1),
             padding = detail::pair_arg(padding_v, op, "padding", 0),
             dilation = detail::pair_arg(dilation_v, op, "dilation", 1);
  NN_CHECK(groups >= 1, ValueError, op, ": groups must be >= 1, got ", groups);
  const int64_t N = input.sizes()[0], C = input.sizes()[1], H = input.sizes()[2], W = input.sizes()[3];
  const int64_t Cout = weight.sizes()[0], kh = weight.sizes()[2], kw = weight.sizes()[3];
  NN_CHECK(C % groups == 0 && Cout % groups == 0, ValueError, op, ": in_channels (", C, ") and out_channels (", Cout,
           ") must be divisible by groups (", groups, ")");
  NN_CHECK(weight.sizes()[1] * groups == C, ShapeError, op, ": weight of shape ", weight.sizes(), " expects ",
           weight.sizes()[1] * groups, " input channels (weight.shape[1] * groups), got input of shape ",
           input.sizes());
  NN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.sizes()[0] == Cout), ShapeError, op,
           ": bias must have shape (", Cout, ",), got ", bias.defined() ? bias.sizes() : Shape{});
  const int64_t eh = dilation[0] * (kh - 1) + 1, ew = dilation[1] * (kw - 1) + 1;
  NN_CHECK(kh > 0 && kw > 0 && H + 2 * padding[0] >= eh && W + 2 * padding[1] >= ew, ShapeError, op,
           ": the (dilated) kernel ", eh, "x", ew, " is larger than the padded input ", H + 2 * padding[0], "x",
           W + 2 * padding[1], " (input shape ", input.sizes(), ", weight shape ", weight.sizes(), ")");
  if (is_half(input.dtype())) {
    return cast(conv2d(half_cast(input), half_cast(weight), half_cast(bias), stride_v, padding_v, dilation_v, groups,
                       relu),
                input.dtype());
  }
  Conv2dParams p;
  p.stride[0] = stride[0], p.stride[1] = stride[1];
  p.padding[0] = padding[0], p.padding[1] = padding[1];
  p.dilation[0] = dilation[0], p.dilation[1] = dilation[1];
  p.groups = groups;
  const int64_t OH = (H + 2 * padding[0] - eh) / stride[0] + 1, OW = (W + 2 * padding[1] - ew) / stride[1] + 1;
  Tensor x = detail::contiguous_raw(input), w = detail::contiguous_raw(weight);
  Tensor b = bias.defined() ? detail::contiguous_raw(bias) : Tensor();
  Tensor y = empty({N, Cout, OH, OW}, input.dtype(), input.device());
  kernels().conv_forward.get(OpId::conv2d, input.device())(x, w, b, y, p, relu);
  if (autograd::needs_grad({&input, &weight, &bias})) {
    SavedTensor sx(x), sw(w), sy(relu ? y : Tensor());
    const bool gx = input.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
    autograd::record("Conv2DBackward", {input, weight, bias}, {y}, [=](const std::vector<Tensor>& grads) {
      Tensor g = grads[0];
      if (relu) {
        Tensor yy = sy.unpack("Conv2DBackward");
        g = mul(g, cast(gt(yy, zeros({}, yy.dtype())), g.dtype()));
      }
      g = detail::contiguous_raw(g);
      const Tensor xs = sx.unpack("Conv2DBackward"), ws = sw.unpack("Conv2DBackward");
      Tensor dx, dw, db;
      if (gx) {
        dx = empty(xs.sizes(), xs.dtype(), xs.device());
        kernels().conv_backward_input.get(OpId::conv2d, xs.device())(g, ws, dx, p);
      }
      if (gw) {
        dw = empty(ws.sizes(), ws.dtype(), ws.device());
        kernels().conv_backward_weight.get(OpId::conv2d, xs.device())(xs, g, dw, p);
      }
      if (gb) db = channel_sum(g);
      return std::vector<Tensor>{dx, dw, db};
    });
  }
  return y;
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::string& padding, const std::vector<int64_t>& dilation_v, int64_t groups, bool relu) {
  const char* op = "conv2d";
  if (padding == "valid") return conv2d(input, weight, bias, stride, std::vector<int64_t>{0, 0}, dilation_v, groups, relu);
  NN_CHECK(padding == "same", ValueError, op, ": padding must be 'valid', 'same' or ints, got '", padding, "'");
  const auto s = detail::pair_arg(stride, op, "stride", 1);
  NN_CHECK(s[0] == 1 && s[1] == 1, ValueError, op, ": padding='same' is not supported for strided convolutions");
  const auto d = detail::pair_arg(dilation_v, op, "dilation", 1);
  NN_CHECK(weight.dim() == 4, ShapeError, op, ": weight must be 4-D (out_channels, in_channels/groups, kH, kW), got ",
           weight.sizes());
  // Total padding d*(k-1) per dim, split left = total/2, right = the rest (PyTorch). An
  // odd total pads `right` on both sides and drops the first output row/column.
  int64_t pad[2], extra[2];
  for (int k = 0; k < 2; ++k) {
    const int64_t total = d[k] * (weight.sizes()[2 + k] - 1);
    pad[k] = total - total / 2;
    extra[k] = total % 2;
  }
  Tensor y = conv2d(input, weight, bias, stride, std::vector<int64_t>{pad[0], pad[1]}, dilation_v, groups, relu);
  const int64_t hd = y.dim() - 2;
  if (extra[0]) y = slice(y, hd, 1, std::nullopt, 1);
  if (extra[1]) y = slice(y, hd + 1, 1, std::nullopt, 1);
  return y;
}

namespace {
Tensor conv1d_weight(const Tensor& weight) {
  NN_CHECK(weight.dim() == 3, ShapeError, "conv1d: weight must be 3-D (out_channels, in_channels/groups, kL), got ",
           weight.sizes());
  return unsqueeze(weight, 2);
}
Tensor conv1d_input(const Tensor& input) {
  NN_CHECK(input.dim() == 2 || input.dim() == 3, ShapeError,
           "conv1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape ", input.sizes());
  return unsqueeze(input, input.dim() - 1);
}
std::vector<int64_t> conv1d_arg(const std::vector<int64_t>& v, const char* what, int64_t one) {
  NN_CHECK(v.size() == 1, ValueError, "conv1d: ", what, " must be one int, got ", v.size(), " values");
  return {one, v[0]};
}
}  // namespace

Tensor native_conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups) {
  Tensor y = conv2d(conv1d_input(input), conv1d_weight(weight), bias, conv1d_arg(stride, "stride", 1),
                    conv1d_arg(padding, "padding", 0), conv1d_arg(dilation, "dilation", 1), groups, false);
  return squeeze(y, Dims{y.dim() - 2});
}

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::string& padding, const std::vector<int64_t>& dilation, int64_t groups) {
  Tensor y = conv2d(conv1d_input(input), conv1d_weight(weight), bias, conv1d_arg(stride, "stride", 1), padding,
                    conv1d_arg(dilation, "dilation", 1), groups, false);
  return squeeze(y, Dims{y.dim() - 2});
}

Tensor native_conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const std::vector<int64_t>& stride_v, const std::vector<int64_t>& padding_v,
                        const std::vector<int64_t>& output_padding_v, int64_t groups,
                        const std::vector<int64_t>& dilation_v) {
  const char* op = "conv_transpose2d";
  NN_CHECK(input.dim() == 3 || input.dim() == 4, ShapeError, op,
           ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape ", input.sizes());
  if (input.dim() == 3) {
    return squeeze(conv_transpose2d(unsqueeze(input, 0), weight, bias, stride_v, padding_v, output_padding_v, groups,
                                    dilation_v),
                   Dims{0});
  }
  NN_CHECK(weight.dim() == 4, ShapeError, op, ": weight must be 4-D (in_channels, out_channels/groups, kH, kW), got ",
           weight.sizes());
  check_conv_dtypes(input, weight, bias, op);
  const auto stride = detail::pair_arg(stride_v, op, "stride", 1),
             padding = detail::pair_arg(padding_v, op, "padding", 0),
             dilation = detail::pair_arg(dilation_v, op, "dilation", 1),
             opad = detail::pair_arg(output_padding_v, op, "output_padding", 0);
  NN_CHECK(groups >= 1, ValueError, op, ": groups must be >= 1, got ", groups);
  for (int k = 0; k < 2; ++k)
    NN_CHECK(opad[k] < stride[k] || opad[k] < dilation[k], ValueError, op,
             ": output_padding must be smaller than either stride or dilation, got output_padding ", opad[k],
             ", stride ", stride[k], ", dilation ", dilation[k]);
  const int64_t N = input.sizes()[0], Cin = input.sizes()[1], H = input.sizes()[2], W = input.sizes()[3];
  const int64_t kh = weight.sizes()[2], kw = weight.sizes()[3], Cout = weight.sizes()[1] * groups;
  NN_CHECK(weight.sizes()[0] == Cin && Cin % groups == 0, ShapeError, op, ": weight of shape ", weight.sizes(),
           " expects ", weight.sizes()[0], " input channels (divisible by groups ", groups, "), got input of shape ",
           input.sizes());
  NN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.sizes()[0] == Cout), ShapeError, op,
           ": bias must have shape (", Cout, ",), got ", bias.defined() ? bias.sizes() : Shape{});
  const int64_t OH = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + opad[0] + 1;
  const int64_t OW = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + opad[1] + 1;
  NN_CHECK(kh > 0 && kw > 0 && OH > 0 && OW > 0, ShapeError, op, ": the output size ", OH, "x", OW,
           " is not positive (input shape ", input.sizes(), ", weight shape ", weight.sizes(), ")");
  if (is_half(input.dtype())) {
    return cast(conv_transpose2d(half_cast(input), half_cast(weight), half_cast(bias), stride_v, padding_v,
                                 output_padding_v, groups, dilation_v),
                input.dtype());
  }
  Conv2dParams p;
  p.stride[0] = stride[0], p.stride[1] = stride[1];
  p.padding[0] = padding[0], p.padding[1] = padding[1];
  p.dilation[0] = dilation[0], p.dilation[1] = dilation[1];
  p.groups = groups;
  Tensor x = detail::contiguous_raw(input), w = detail::contiguous_raw(weight);
  Tensor y = empty({N, Cout, OH, OW}, input.dtype(), input.device());
  if (y.numel() > 0) kernels().conv_backward_input.get(OpId::conv_transpose2d, input.device())(x, w, y, p);
  if (bias.defined()) {
    autograd::GradModeGuard no_grad(false);
    detail::copy_raw(y, add(y, reshape(bias, {1, Cout, 1, 1})));
  }
  if (autograd::needs_grad({&input, &weight, &bias})) {
    SavedTensor sx(x), sw(w);
    const bool gx = input.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
    autograd::record("ConvTranspose2DBackward", {input, weight, bias}, {y}, [=](const std::vector<Tensor>& grads) {
      Tensor g = detail::contiguous_raw(grads[0]);
      const Tensor xs = sx.unpack("ConvTranspose2DBackward"), ws = sw.unpack("ConvTranspose2DBackward");
      Tensor dx, dw, db;
      if (gx) {
        dx = empty(xs.sizes(), xs.dtype(), xs.device());
        kernels().conv_forward.get(OpId::conv_transpose2d, xs.device())(g, ws, Tensor(), dx, p, false);
      }
      if (gw) {
        dw = empty(ws.sizes(), ws.dtype(), ws.device());
        kernels().conv_backward_weight.get(OpId::conv_transpose2d, xs.device())(g, xs, dw, p);
      }
      if (gb) db = channel_sum(g);
      return std::vector<Tensor>{dx, dw, db};
    });
  }
  return y;
}

}  // namespace nn
