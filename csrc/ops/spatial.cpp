// spatial.cpp — the kernel-backed spatial ops with their backward: upsample (the op under
// F.interpolate: nearest, nearest-exact, linear / bilinear, bicubic), im2col / col2im (F.unfold /
// F.fold, each the other's adjoint), grid_sample (gradients for input and grid) and
// adaptive_max_pool2d (values and int64 flat indices h*W + w, as max_pool2d).
//
// Layout: NCHW (or NCL for upsample's 3-D linear / nearest input; unbatched CHW for
// im2col / col2im). Inputs are copied contiguous, kernels (cpu/spatial_kernels.cpp) see
// float32 or float64; half types compute in float32 and are cast back. Coordinate rules
// are PyTorch's (Note [Upsample coordinates] in cpu/spatial_kernels.cpp).
#include "ops/internal.h"

namespace nn {
using autograd::SavedTensor;

namespace {

void check_floating(const Tensor& t, const char* op, const char* what) {
  NN_CHECK(is_floating(t.dtype()), DTypeError, op, ": expected a floating-point ", what, ", got ", t.dtype());
}

UpsampleMode parse_upsample_mode(const std::string& mode, int64_t ndim) {
  const char* op = "upsample";
  if (mode == "nearest") return UpsampleMode::nearest;
  if (mode == "nearest-exact") return UpsampleMode::nearest_exact;
  if (mode == "linear" || mode == "bilinear") {
    const int64_t want = mode == "linear" ? 3 : 4;
    NN_CHECK(ndim == want, ShapeError, op, ": mode '", mode, "' needs a ", want, "-D input, got a ", ndim,
             "-D input");
    return UpsampleMode::bilinear;
  }
  if (mode == "bicubic") {
    NN_CHECK(ndim == 4, ShapeError, op, ": mode 'bicubic' needs a 4-D input, got a ", ndim, "-D input");
    return UpsampleMode::bicubic;
  }
  throw ValueError(str(op, ": unknown mode '", mode, "' (expected 'nearest', 'nearest-exact', 'linear', "
                       "'bilinear' or 'bicubic')"));
}

}  // namespace

Tensor native_upsample(const Tensor& input, const std::vector<int64_t>& output_size, const std::string& mode,
                       bool align_corners, std::optional<double> scale_h, std::optional<double> scale_w,
                       bool reference) {
  const char* op = "upsample";
  NN_CHECK(input.dim() == 3 || input.dim() == 4, ShapeError, op, ": expected a 3-D (N, C, L) or 4-D (N, C, H, W) "
           "input, got shape ", input.sizes());
  check_floating(input, op, "input");
  const int64_t spatial = input.dim() - 2;
  NN_CHECK(static_cast<int64_t>(output_size.size()) == spatial, ValueError, op, ": output_size must have ", spatial,
           " values for a ", input.dim(), "-D input, got ", output_size.size());
  UpsampleParams p;
  p.mode = parse_upsample_mode(mode, input.dim());
  p.align_corners = align_corners && (p.mode == UpsampleMode::bilinear || p.mode == UpsampleMode::bicubic);
  for (const auto& s : {scale_h, scale_w})
    NN_CHECK(!s || (*s > 0 && std::isfinite(*s)), ValueError, op, ": scale factors must be positive and finite, got ",
             *s);
  const int64_t N = input.sizes()[0], C = input.sizes()[1];
  const int64_t H = spatial == 2 ? input.sizes()[2] : 1, W = input.sizes()[input.dim() - 1];
  const int64_t OH = spatial == 2 ? output_size[0] : 1, OW = output_size.back();
  NN_CHECK(H > 0 && W > 0 && OH > 0 && OW > 0, ShapeError, op, ": input and output spatial sizes must be greater "
           "than 0, got input shape ", input.sizes(), " and output_size ", output_size);
  if (is_half(input.dtype()))
    return cast(upsample(cast(input, DType::Float32), output_size, mode, align_corners, scale_h, scale_w, reference),
                input.dtype());
  p.scale[0] = spatial == 2 ? scale_h.value_or(0.0) : 0.0;
  p.scale[1] = (spatial == 2 ? scale_w : (scale_w ? scale_w : scale_h)).value_or(0.0);
  const int64_t P = N * C;
  const Tensor xc = detail::contiguous_raw(input);
  const Tensor x = make_view(xc, {P, H, W}, {H * W, W, 1}, xc.offset());
  Shape out_shape = spatial == 2 ? Shape{N, C, OH, OW} : Shape{N, C, OW};
  Tensor y = empty(out_shape, input.dtype(), input.device());
  if (P > 0) {
    const auto& table = reference ? kernels().upsample_reference : kernels().upsample;
    table.get(OpId::upsample, input.device())(x, make_view(y, {P, OH, OW}, {OH * OW, OW, 1}, 0), p);
  }
  if (autograd::needs_grad({&input})) {
    const Shape in_sizes = input.sizes();
    const DType dt = input.dtype();
    const Device dev = input.device();
    autograd::record("UpsampleBackward", {input}, {y}, [=](const std::vector<Tensor>& grads) {
      const Tensor g = detail::contiguous_raw(grads[0]);
      Tensor dx = empty(in_sizes, dt, dev);
      if (P > 0) {
        const auto& table = reference ? kernels().upsample_backward_reference : kernels().upsample_backward;
        table.get(OpId::upsample, dev)(make_view(g, {P, OH, OW}, {OH * OW, OW, 1}, g.offset()),
                                       make_view(dx, {P, H, W}, {H * W, W, 1}, 0), p);
      }
      return std::vector<Tensor>{dx};
    });
  }
  return y;
}

// ---------------------------------------------------------------- im2col / col2im --

namespace {

PatchParams make_patch_params(const char* op, const std::vector<int64_t>& kernel_size,
                              const std::vector<int64_t>& dilation, const std::vector<int64_t>& padding,
                              const std::vector<int64_t>& stride) {
  const auto k = detail::pair_arg(kernel_size, op, "kernel_size", 1);
  const auto d = detail::pair_arg(dilation, op, "dilation", 1);
  const auto p = detail::pair_arg(padding, op, "padding", 0);
  const auto s = detail::pair_arg(stride, op, "stride", 1);
  PatchParams out;
  for (int i = 0; i < 2; ++i) {
    out.kernel[i] = k[i];
    out.dilation[i] = d[i];
    out.padding[i] = p[i];
    out.stride[i] = s[i];
  }
  return out;
}

// The number of patch positions along one dim (at least 1 is required).
int64_t patch_count(int64_t size, const PatchParams& p, int i) {
  const int64_t span = size + 2 * p.padding[i] - p.dilation[i] * (p.kernel[i] - 1) - 1;
  return span < 0 ? 0 : span / p.stride[i] + 1;
}

void run_im2col(const Tensor& x4, const Tensor& cols, const PatchParams& p) {
  if (cols.numel() > 0) kernels().im2col.get(OpId::im2col, x4.device())(x4, cols, p);
}
void run_col2im(const Tensor& cols, const Tensor& x4, const PatchParams& p) {
  if (x4.numel() > 0) kernels().col2im.get(OpId::col2im, x4.device())(cols, x4, p);
}

}  // namespace

Tensor native_im2col(const Tensor& input, const std::vector<int64_t>& kernel_size,
                     const std::vector<int64_t>& dilation, const std::vector<int64_t>& padding,
                     const std::vector<int64_t>& stride) {
  const char* op = "im2col";
  NN_CHECK(input.dim() == 3 || input.dim() == 4, ShapeError, "unfold (im2col): expected a 3-D (C, H, W) or 4-D "
           "(N, C, H, W) input, got shape ", input.sizes());
  check_floating(input, op, "input");
  const PatchParams p = make_patch_params(op, kernel_size, dilation, padding, stride);
  const bool batched = input.dim() == 4;
  const int64_t N = batched ? input.sizes()[0] : 1, C = input.sizes()[input.dim() - 3];
  const int64_t H = input.sizes()[input.dim() - 2], W = input.sizes()[input.dim() - 1];
  const int64_t OH = patch_count(H, p, 0), OW = patch_count(W, p, 1);
  NN_CHECK(C > 0 && OH > 0 && OW > 0, ShapeError, "unfold (im2col): the input of shape ", input.sizes(),
           " (padded by (", p.padding[0], ", ", p.padding[1], ")) is smaller than the dilated kernel (",
           p.dilation[0] * (p.kernel[0] - 1) + 1, ", ", p.dilation[1] * (p.kernel[1] - 1) + 1,
           ") or has no channels: no patch fits");
  if (is_half(input.dtype()))
    return cast(im2col(cast(input, DType::Float32), kernel_size, dilation, padding, stride), input.dtype());
  const int64_t rows = C * p.kernel[0] * p.kernel[1], L = OH * OW;
  const Tensor xc = detail::contiguous_raw(input);
  const Tensor x4 = make_view(xc, {N, C, H, W}, {C * H * W, H * W, W, 1}, xc.offset());
  Tensor cols = empty({N, rows, L}, input.dtype(), input.device());
  run_im2col(x4, cols, p);
  const Shape out_shape = batched ? Shape{N, rows, L} : Shape{rows, L};
  Tensor out = make_view(cols, out_shape, contiguous_strides(out_shape), 0);
  if (autograd::needs_grad({&input})) {
    const Shape in_sizes = input.sizes();
    const DType dt = input.dtype();
    const Device dev = input.device();
    autograd::record("Im2ColBackward", {input}, {out}, [=](const std::vector<Tensor>& grads) {
      const Tensor g = detail::contiguous_raw(grads[0]);
      Tensor dx = empty(in_sizes, dt, dev);
      run_col2im(make_view(g, {N, rows, L}, {rows * L, L, 1}, g.offset()),
                 make_view(dx, {N, C, H, W}, {C * H * W, H * W, W, 1}, 0), p);
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor native_col2im(const Tensor& input, const std::vector<int64_t>& output_size,
                     const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& dilation,
                     const std::vector<int64_t>& padding, const std::vector<int64_t>& stride) {
  const char* op = "col2im";
  NN_CHECK(input.dim() == 2 || input.dim() == 3, ShapeError, "fold (col2im): expected a 2-D (C*kh*kw, L) or 3-D "
           "(N, C*kh*kw, L) input, got shape ", input.sizes());
  check_floating(input, op, "input");
  const PatchParams p = make_patch_params(op, kernel_size, dilation, padding, stride);
  const auto hw = detail::pair_arg(output_size, op, "output_size", 1);
  const bool batched = input.dim() == 3;
  const int64_t N = batched ? input.sizes()[0] : 1;
  const int64_t rows = input.sizes()[input.dim() - 2], L = input.sizes()[input.dim() - 1];
  const int64_t kk = p.kernel[0] * p.kernel[1];
  NN_CHECK(rows > 0 && rows % kk == 0, ShapeError, "fold (col2im): expected the size of dim ", input.dim() - 2,
           " (", rows, ") to be a positive multiple of kernel_size product ", kk, " (input shape ", input.sizes(),
           ")");
  const int64_t H = hw[0], W = hw[1], C = rows / kk;
  const int64_t OH = patch_count(H, p, 0), OW = patch_count(W, p, 1);
  NN_CHECK(OH > 0 && OW > 0 && L == OH * OW, ShapeError, "fold (col2im): expected the last dim of the input (", L,
           ") to match the number of sliding blocks ", OH, " * ", OW, " = ", OH * OW, " for output_size (", H, ", ",
           W, "), kernel_size (", p.kernel[0], ", ", p.kernel[1], "), dilation (", p.dilation[0], ", ",
           p.dilation[1], "), padding (", p.padding[0], ", ", p.padding[1], "), stride (", p.stride[0], ", ",
           p.stride[1], "); input shape ", input.sizes());
  if (is_half(input.dtype()))
    return cast(col2im(cast(input, DType::Float32), output_size, kernel_size, dilation, padding, stride),
                input.dtype());
  const Tensor cc = detail::contiguous_raw(input);
  const Tensor cols = make_view(cc, {N, rows, L}, {rows * L, L, 1}, cc.offset());
  Tensor image = empty({N, C, H, W}, input.dtype(), input.device());
  run_col2im(cols, image, p);
  const Shape out_shape = batched ? Shape{N, C, H, W} : Shape{C, H, W};
  Tensor out = make_view(image, out_shape, contiguous_strides(out_shape), 0);
  if (autograd::needs_grad({&input})) {
    const Shape in_sizes = input.sizes();
    const DType dt = input.dtype();
    const Device dev = input.device();
    autograd::record("Col2ImBackward", {input}, {out}, [=](const std::vector<Tensor>& grads) {
      const Tensor g = detail::contiguous_raw(grads[0]);
      Tensor dcols = empty(in_sizes, dt, dev);
      run_im2col(make_view(g, {N, C, H, W}, {C * H * W, H * W, W, 1}, g.offset()),
                 make_view(dcols, {N, rows, L}, {rows * L, L, 1}, 0), p);
      return std::vector<Tensor>{dcols};
    });
  }
  return out;
}

// ---------------------------------------------------------------- grid_sample ------

Tensor native_grid_sample(const Tensor& input, const Tensor& grid, const std::string& mode,
                          const std::string& padding_mode, bool align_corners) {
  const char* op = "grid_sample";
  NN_CHECK(input.dim() == 4, ShapeError, op, ": expected a 4-D (N, C, H, W) input, got shape ", input.sizes());
  NN_CHECK(grid.dim() == 4 && grid.sizes()[3] == 2 && grid.sizes()[0] == input.sizes()[0], ShapeError, op,
           ": expected a grid of shape (N, H_out, W_out, 2) with N = ", input.sizes()[0], " (the input's batch), got ",
           grid.sizes());
  check_floating(input, op, "input");
  NN_CHECK(grid.dtype() == input.dtype(), DTypeError, op, ": expected grid and input of one dtype, got ",
           grid.dtype(), " and ", input.dtype());
  detail::check_same_device(input, grid, op);
  NN_CHECK(input.sizes()[2] > 0 && input.sizes()[3] > 0, ShapeError, op,
           ": expected non-empty spatial dims, got input shape ", input.sizes());
  GridSampleParams p;
  NN_CHECK(mode == "bilinear" || mode == "nearest", ValueError, op, ": mode must be 'bilinear' or 'nearest', got '",
           mode, "' ('bicubic' is not supported)");
  p.mode = mode == "bilinear" ? GridMode::bilinear : GridMode::nearest;
  if (padding_mode == "zeros") p.padding = GridPadding::zeros;
  else if (padding_mode == "border") p.padding = GridPadding::border;
  else if (padding_mode == "reflection") p.padding = GridPadding::reflection;
  else throw ValueError(str(op, ": padding_mode must be 'zeros', 'border' or 'reflection', got '", padding_mode, "'"));
  p.align_corners = align_corners;
  if (is_half(input.dtype()))
    return cast(grid_sample(cast(input, DType::Float32), cast(grid, DType::Float32), mode, padding_mode,
                            align_corners),
                input.dtype());
  const int64_t N = input.sizes()[0], C = input.sizes()[1], OH = grid.sizes()[1], OW = grid.sizes()[2];
  const Tensor x = detail::contiguous_raw(input), g = detail::contiguous_raw(grid);
  Tensor y = empty({N, C, OH, OW}, input.dtype(), input.device());
  if (y.numel() > 0) kernels().grid_sample.get(OpId::grid_sample, input.device())(x, g, y, p);
  if (autograd::needs_grad({&input, &grid})) {
    SavedTensor sx(x), sg(g);
    const bool want_dx = input.requires_grad(), want_dgrid = grid.requires_grad();
    autograd::record("GridSampleBackward", {input, grid}, {y}, [=](const std::vector<Tensor>& grads) {
      const Tensor gy = detail::contiguous_raw(grads[0]);
      const Tensor xs = sx.unpack("GridSampleBackward"), gs = sg.unpack("GridSampleBackward");
      Tensor dx = want_dx ? empty(xs.sizes(), xs.dtype(), xs.device()) : Tensor();
      Tensor dgrid = want_dgrid ? empty(gs.sizes(), gs.dtype(), gs.device()) : Tensor();
      if (want_dx && gy.numel() == 0) dx = zeros(xs.sizes(), xs.dtype());
      if (want_dgrid && gy.numel() == 0) dgrid = zeros(gs.sizes(), gs.dtype());
      if (gy.numel() > 0) kernels().grid_sample_backward.get(OpId::grid_sample, xs.device())(gy, xs, gs, dx, dgrid, p);
      return std::vector<Tensor>{dx, dgrid};
    });
  }
  return y;
}

// ---------------------------------------------------------------- adaptive_max_pool2d

std::pair<Tensor, Tensor> native_adaptive_max_pool2d(const Tensor& input, const std::vector<int64_t>& output_size) {
  const char* op = "adaptive_max_pool2d";
  NN_CHECK(input.dim() == 3 || input.dim() == 4, ShapeError, op, ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) "
           "input, got shape ", input.sizes());
  check_floating(input, op, "input");
  const auto o = detail::pair_arg(output_size, op, "output_size", 1);
  const int64_t n = input.dim();
  NN_CHECK(input.sizes()[n - 2] > 0 && input.sizes()[n - 1] > 0, ShapeError, op,
           ": expected non-empty spatial dims, got shape ", input.sizes());
  if (is_half(input.dtype())) {
    auto [v, i] = adaptive_max_pool2d(cast(input, DType::Float32), output_size);
    return {cast(v, input.dtype()), i};
  }
  const bool batched = n == 4;
  const int64_t N = batched ? input.sizes()[0] : 1, C = input.sizes()[n - 3];
  const int64_t H = input.sizes()[n - 2], W = input.sizes()[n - 1], OH = o[0], OW = o[1];
  const Tensor xc = detail::contiguous_raw(input);
  const Tensor x4 = make_view(xc, {N, C, H, W}, {C * H * W, H * W, W, 1}, xc.offset());
  Tensor y = empty({N, C, OH, OW}, input.dtype(), input.device());
  Tensor idx = empty({N, C, OH, OW}, DType::Int64, input.device());
  if (y.numel() > 0) kernels().pool.get(OpId::adaptive_max_pool2d, input.device())(x4, y, idx, Pool2dParams{});
  const Shape out_shape = batched ? Shape{N, C, OH, OW} : Shape{C, OH, OW};
  y = make_view(y, out_shape, contiguous_strides(out_shape), 0);
  idx = make_view(idx, out_shape, contiguous_strides(out_shape), 0);
  if (autograd::needs_grad({&input})) {
    const Shape in_sizes = input.sizes();
    const DType dt = input.dtype();
    const Device dev = input.device();
    const Tensor saved_idx = idx;  // int64, never modified in place by the library
    autograd::record("AdaptiveMaxPool2DBackward", {input}, {y}, [=](const std::vector<Tensor>& grads) {
      const Tensor g = detail::contiguous_raw(grads[0]);
      Tensor dx = empty(in_sizes, dt, dev);
      if (dx.numel() > 0 && g.numel() > 0)
        kernels().pool_backward.get(OpId::adaptive_max_pool2d, dev)(
            make_view(g, {N, C, OH, OW}, {C * OH * OW, OH * OW, OW, 1}, g.offset()),
            make_view(saved_idx, {N, C, OH, OW}, {C * OH * OW, OH * OW, OW, 1}, saved_idx.offset()),
            make_view(dx, {N, C, H, W}, {C * H * W, H * W, W, 1}, 0), Pool2dParams{});
      else if (dx.numel() > 0)
        detail::copy_raw(dx, zeros({}, dt));
      return std::vector<Tensor>{dx};
    });
  }
  return {y, idx};
}

}  // namespace nn
