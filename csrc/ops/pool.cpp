// pool.cpp — max_pool2d (values and int64 indices), avg_pool2d, adaptive_avg_pool2d
// with their backward, NCHW (or unbatched CHW), PyTorch semantics: output size
//   floor_or_ceil((H + 2p - d*(k-1) - 1) / s) + 1
// where ceil_mode drops a last window that would start inside the right padding.
// Kernels: cpu/pool_kernels.cpp. Half types compute in float32.
#include <array>

#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

namespace {

int64_t pooled_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil, bool ceil_mode) {
  const int64_t span = in + 2 * pad - dil * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;  // last window must start inside the input or left pad
  return out;
}


void check_pool_input(const Tensor& x, const char* op) {
  NN_CHECK(x.dim() == 3 || x.dim() == 4, ShapeError, op, ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
           "shape ", x.sizes());
  NN_CHECK(is_floating(x.dtype()), DTypeError, op, ": expected a floating-point input, got ", x.dtype());
  NN_CHECK(x.sizes()[x.dim() - 3] > 0 && x.sizes()[x.dim() - 2] > 0 && x.sizes()[x.dim() - 1] > 0, ShapeError, op,
           ": expected non-empty channel and spatial dims, got shape ", x.sizes());
}

Pool2dParams make_params(const char* op, const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                         const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation) {
  const auto k = detail::pair_arg(kernel, op, "kernel_size", 1);
  const auto s = stride.empty() ? k : detail::pair_arg(stride, op, "stride", 1);
  const auto p = detail::pair_arg(padding, op, "padding", 0);
  const auto d = detail::pair_arg(dilation, op, "dilation", 1);
  for (int i = 0; i < 2; ++i)
    NN_CHECK(p[i] <= k[i] / 2, ValueError, op, ": padding should be at most half of the kernel size, got padding (",
             p[0], ", ", p[1], ") for kernel_size (", k[0], ", ", k[1], ")");
  Pool2dParams out;
  for (int i = 0; i < 2; ++i) {
    out.kernel[i] = k[i];
    out.stride[i] = s[i];
    out.padding[i] = p[i];
    out.dilation[i] = d[i];
  }
  return out;
}

// Runs a pool kernel on a contiguous 4-D view and records the backward.
Tensor run_pool(OpId op, const Tensor& input, const Pool2dParams& p, int64_t OH, int64_t OW, Tensor* indices) {
  const bool batched = input.dim() == 4;
  Tensor x = detail::contiguous_raw(input);
  if (!batched) x = make_view(x, {1, x.sizes()[0], x.sizes()[1], x.sizes()[2]}, {0, x.strides()[0],
                              x.strides()[1], x.strides()[2]}, x.offset());
  const int64_t N = x.sizes()[0], C = x.sizes()[1];
  NN_CHECK(OH > 0 && OW > 0, ShapeError, op_info(op).name, ": the output size ", OH, "x", OW,
           " is too small (input shape ", input.sizes(), ")");
  Tensor y = empty({N, C, OH, OW}, x.dtype(), x.device());
  Tensor idx = op == OpId::max_pool2d ? empty({N, C, OH, OW}, DType::Int64, x.device()) : Tensor();
  if (y.numel() > 0) kernels().pool.get(op, x.device())(x, y, idx, p);
  Shape out_shape = batched ? Shape{N, C, OH, OW} : Shape{C, OH, OW};
  if (!batched) {
    y = make_view(y, out_shape, contiguous_strides(out_shape), 0);
    if (idx.defined()) idx = make_view(idx, out_shape, contiguous_strides(out_shape), 0);
  }
  if (indices) *indices = idx;
  if (autograd::needs_grad({&input})) {
    const Shape in4 = x.sizes(), in_sizes = input.sizes();
    const DType dt = x.dtype();
    const Device dev = x.device();
    const std::string name = detail::backward_name(op);
    const Tensor saved_idx = idx;  // int64, never modified in place by the library
    autograd::record(name, {input}, {y}, [=](const std::vector<Tensor>& grads) {
      Tensor g = detail::contiguous_raw(grads[0]);
      Tensor g4 = make_view(g, {in4[0], in4[1], OH, OW}, contiguous_strides({in4[0], in4[1], OH, OW}), g.offset());
      Tensor dx = empty(in4, dt, dev);
      Tensor i4 = saved_idx.defined() ? make_view(saved_idx, g4.sizes(), g4.strides(), saved_idx.offset()) : Tensor();
      if (dx.numel() > 0) kernels().pool_backward.get(op, dev)(g4, i4, dx, p);
      return std::vector<Tensor>{make_view(dx, in_sizes, contiguous_strides(in_sizes), 0)};
    });
  }
  return y;
}

}  // namespace

std::pair<Tensor, Tensor> native_max_pool2d(const Tensor& input, const std::vector<int64_t>& kernel_size,
                                     const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                                     const std::vector<int64_t>& dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  check_pool_input(input, op);
  const Pool2dParams p = make_params(op, kernel_size, stride, padding, dilation);
  if (is_half(input.dtype())) {
    auto [v, i] = max_pool2d(cast(input, DType::Float32), kernel_size, stride, padding, dilation, ceil_mode);
    return {cast(v, input.dtype()), i};
  }
  const int64_t H = input.sizes()[input.dim() - 2], W = input.sizes()[input.dim() - 1];
  const int64_t OH = pooled_size(H, p.kernel[0], p.padding[0], p.stride[0], p.dilation[0], ceil_mode);
  const int64_t OW = pooled_size(W, p.kernel[1], p.padding[1], p.stride[1], p.dilation[1], ceil_mode);
  Tensor idx;
  Tensor y = run_pool(OpId::max_pool2d, input, p, OH, OW, &idx);
  return {y, idx};
}

Tensor native_avg_pool2d(const Tensor& input, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& stride,
                  const std::vector<int64_t>& padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  const char* op = "avg_pool2d";
  check_pool_input(input, op);
  Pool2dParams p = make_params(op, kernel_size, stride, padding, {1});
  NN_CHECK(!divisor_override || *divisor_override != 0, ValueError, op, ": divisor_override must be nonzero");
  p.count_include_pad = count_include_pad;
  p.divisor_override = divisor_override.value_or(0);
  if (is_half(input.dtype()))
    return cast(avg_pool2d(cast(input, DType::Float32), kernel_size, stride, padding, ceil_mode, count_include_pad,
                           divisor_override),
                input.dtype());
  const int64_t H = input.sizes()[input.dim() - 2], W = input.sizes()[input.dim() - 1];
  const int64_t OH = pooled_size(H, p.kernel[0], p.padding[0], p.stride[0], 1, ceil_mode);
  const int64_t OW = pooled_size(W, p.kernel[1], p.padding[1], p.stride[1], 1, ceil_mode);
  return run_pool(OpId::avg_pool2d, input, p, OH, OW, nullptr);
}

Tensor native_adaptive_avg_pool2d(const Tensor& input, const std::vector<int64_t>& output_size) {
  const char* op = "adaptive_avg_pool2d";
  check_pool_input(input, op);
  const auto o = detail::pair_arg(output_size, op, "output_size", 1);
  if (is_half(input.dtype()))
    return cast(adaptive_avg_pool2d(cast(input, DType::Float32), output_size), input.dtype());
  return run_pool(OpId::adaptive_avg_pool2d, input, Pool2dParams{}, o[0], o[1], nullptr);
}

}  // namespace nn
