"""The spatial functions of ``torch.nn.functional`` (re-exported by nn_core.functional):
interpolate, pad, pixel_shuffle / pixel_unshuffle, unfold / fold, grid_sample /
affine_grid, the 1-D pools and conv_transpose1d, adaptive_avg_pool1d and instance_norm.

Argument handling (sizes, scale factors, defaults, PyTorch's error rules) is here; the
arithmetic is in the schema ops (csrc/ops/spatial.cpp: upsample, im2col, col2im,
grid_sample, adaptive_max_pool2d; csrc/ops/spatial_composite.cpp: pad, pixel_shuffle, pixel_unshuffle,
affine_grid). The 1-D pools, conv_transpose1d and adaptive_avg_pool1d run the 2-D ops on a
(N, C, 1, L) view; instance_norm is group_norm with one group per channel (or batch_norm
over a (1, N*C, ...) view when running statistics are used). Layout: N, C first."""
from __future__ import annotations

import math

from ._checks import optional_tensor_arg, tensor_arg
from . import _C

_ops = _C.ops

_SUPPORTED_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")


def _tuple(v, n, name, op):
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"{op}: {name} must have {n} values, got {len(v)}")
        return [v_ for v_ in v]
    return [v] * n


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False):
    """Resizes a (N, C, L), (N, C, H, W) or, for the nearest modes and 'trilinear',
    (N, C, D, H, W) input.

    Modes 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' and 'bicubic' (4-D;
    bicubic is Keys' A = -0.75 with edge-clamped taps, as PyTorch). Output sizes and
    source coordinates follow PyTorch exactly: with ``scale_factor`` the output is
    ``floor(in * scale)`` and, unless ``recompute_scale_factor``, the coordinates use
    ``1 / scale`` (not in / out); ``align_corners=False`` maps pixel centers (half-pixel
    rule), True maps the corner pixels onto each other. 'area' is adaptive average
    pooling to the output size (3-D / 4-D; as PyTorch, a scale factor only sets the size).
    'trilinear' (5-D) runs as two separable upsamples."""
    tensor_arg(input, "interpolate", "input")
    op = "interpolate"
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(f"{op}: align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    if mode not in _SUPPORTED_MODES:
        raise ValueError(f"{op}: unknown mode '{mode}' (expected one of {', '.join(_SUPPORTED_MODES)})")
    dim = input.dim() - 2
    if dim < 1 or dim > 3:
        raise ValueError(f"{op}: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got shape {tuple(input.shape)}")
    in_sizes = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError(f"{op}: only one of size or scale_factor should be defined")
    scales = None
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(f"{op}: input and output must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {in_sizes} and output size of {list(size)}")
            out_sizes = [int(s) for s in size]
        else:
            out_sizes = [int(size)] * dim
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size.")
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(f"{op}: input and scale_factor must have the same number of spatial dimensions, "
                                 f"but got input with spatial dimensions of {in_sizes} and scale_factor of "
                                 f"{list(scale_factor)}")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        for s in scales:
            if not (s > 0 and math.isfinite(s)):
                raise ValueError(f"{op}: scale_factor must be positive and finite, got {scale_factor}")
        out_sizes = [int(math.floor(float(n) * s)) for n, s in zip(in_sizes, scales)]
        if recompute_scale_factor:
            scales = None
    else:
        raise ValueError(f"{op}: either size or scale_factor should be defined")
    if mode == "area":
        if dim == 1:
            return adaptive_avg_pool1d(input, out_sizes[0])
        if dim == 2:
            return _C.adaptive_avg_pool2d(input, out_sizes)
    if dim == 3:
        if mode not in ("nearest", "nearest-exact", "trilinear"):
            raise NotImplementedError(f"{op}: a 5-D input supports the modes 'nearest', 'nearest-exact' and "
                                      f"'trilinear', got '{mode}'")
        return _separable_3d(input, out_sizes, "bilinear" if mode == "trilinear" else mode, bool(align_corners),
                             scales)
    if mode == "trilinear":
        raise ValueError(f"{op}: mode 'trilinear' needs a 5-D input, got shape {tuple(input.shape)}")
    sh = scales[0] if scales and dim == 2 else None
    sw = scales[-1] if scales else None
    return _ops.upsample(input, out_sizes, mode, bool(align_corners), sh, sw)


def _separable_3d(input, out_sizes, mode, align_corners, scales):
    """(N, C, D, H, W) resampling as two 2-D upsamples (nearest and linear are separable,
    and this order is PyTorch's arithmetic): (H, W) over a (N, C*D, H, W) view, then D over
    a (N, C, D, OH*OW) view whose width keeps its size (a kept axis is copied)."""
    N, C, D, H, W = input.shape
    OD, OH, OW = out_sizes
    sd, sh, sw = scales if scales else (None, None, None)
    y = _ops.upsample(input.reshape(N, C * D, H, W), [OH, OW], mode, align_corners, sh, sw)
    y = _ops.upsample(y.reshape(N, C, D, OH * OW), [OD, OH * OW], mode, align_corners, sd, None)
    return y.reshape(N, C, OD, OH, OW)


def upsample(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
    """PyTorch's deprecated alias of interpolate."""
    tensor_arg(input, "upsample", "input")
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    tensor_arg(input, "upsample_nearest", "input")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    tensor_arg(input, "upsample_bilinear", "input")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pad(input, pad, mode: str = "constant", value=None):
    """Pads with PyTorch's tuple order: (left, right) of the last dim first, then
    (top, bottom) of the one before, ... Modes 'constant' (negative pads crop), 'reflect',
    'replicate', 'circular' (those pad 1-3 trailing dims of a batched or unbatched input)."""
    tensor_arg(input, "pad", "input")
    if value is not None and mode != "constant" and value != 0:
        raise ValueError(f"pad: padding mode '{mode}' doesn't take in value argument")
    return _ops.pad(input, [int(p) for p in pad], mode, 0.0 if value is None else float(value))


def pixel_shuffle(input, upscale_factor: int):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r)."""
    tensor_arg(input, "pixel_shuffle", "input")
    return _ops.pixel_shuffle(input, int(upscale_factor))


def pixel_unshuffle(input, downscale_factor: int):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W)."""
    tensor_arg(input, "pixel_unshuffle", "input")
    return _ops.pixel_unshuffle(input, int(downscale_factor))


def _pair_list(v):
    return [int(x) for x in v] if isinstance(v, (tuple, list)) else [int(v)]


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L), L the number of patch positions."""
    tensor_arg(input, "unfold", "input")
    return _ops.im2col(input, _pair_list(kernel_size), _pair_list(dilation), _pair_list(padding), _pair_list(stride))


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, unfold's adjoint: (N, C*kh*kw, L) -> (N, C, H, W), overlapping patches summed."""
    tensor_arg(input, "fold", "input")
    return _ops.col2im(input, _pair_list(output_size), _pair_list(kernel_size), _pair_list(dilation),
                       _pair_list(padding), _pair_list(stride))


def grid_sample(input, grid, mode: str = "bilinear", padding_mode: str = "zeros", align_corners=None):
    """Samples a (N, C, H, W) input at grid (N, H_out, W_out, 2) positions (x, y) in [-1, 1];
    modes 'bilinear' and 'nearest', padding 'zeros', 'border', 'reflection'. Gradients flow
    to the input and the grid (bilinear)."""
    tensor_arg(input, "grid_sample", "input")
    tensor_arg(grid, "grid_sample", "grid")
    return _ops.grid_sample(input, grid, mode, padding_mode, bool(align_corners))


def affine_grid(theta, size, align_corners=None):
    """The (N, H, W, 2) sampling grid of the affine maps theta (N, 2, 3) for size (N, C, H, W)."""
    tensor_arg(theta, "affine_grid", "theta")
    return _ops.affine_grid(theta, [int(s) for s in size], bool(align_corners))


# ---- 1-D pools and transposed convolution: the 2-D ops on a (N, C, 1, L) view ----------

def _check_1d(input, op):
    if input.dim() not in (2, 3):
        raise ValueError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {tuple(input.shape)}")


def _one(v, name, op):
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{op}: {name} must be an int or a 1-tuple, got {v}")
        return int(v[0])
    return int(v)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    tensor_arg(input, "max_pool1d", "input")
    op = "max_pool1d"
    _check_1d(input, op)
    k = _one(kernel_size, "kernel_size", op)
    s = k if stride is None or stride == [] or stride == () else _one(stride, "stride", op)
    out = _C.max_pool2d(input.unsqueeze(-2), [1, k], [1, s], [0, _one(padding, "padding", op)],
                        [1, _one(dilation, "dilation", op)], ceil_mode, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
    tensor_arg(input, "avg_pool1d", "input")
    op = "avg_pool1d"
    _check_1d(input, op)
    k = _one(kernel_size, "kernel_size", op)
    s = k if stride is None or stride == [] or stride == () else _one(stride, "stride", op)
    return _C.avg_pool2d(input.unsqueeze(-2), [1, k], [1, s], [0, _one(padding, "padding", op)], ceil_mode,
                         count_include_pad, None).squeeze(-2)


def adaptive_avg_pool1d(input, output_size):
    tensor_arg(input, "adaptive_avg_pool1d", "input")
    op = "adaptive_avg_pool1d"
    _check_1d(input, op)
    return _C.adaptive_avg_pool2d(input.unsqueeze(-2), [1, _one(output_size, "output_size", op)]).squeeze(-2)


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):
    """Max over adaptive windows [floor(o*H/OH), ceil((o+1)*H/OH)); with ``return_indices``
    also the int64 flat indices (h * W + w) into each input plane. ``None`` in
    ``output_size`` keeps that input size."""
    tensor_arg(input, "adaptive_max_pool2d", "input")
    if isinstance(output_size, (tuple, list)):
        output_size = [input.shape[-2 + i] if s is None else int(s) for i, s in enumerate(output_size)]
    else:
        output_size = [int(output_size)]
    values, indices = _ops.adaptive_max_pool2d(input, output_size)
    return (values, indices) if return_indices else values


def adaptive_max_pool1d(input, output_size, return_indices: bool = False):
    tensor_arg(input, "adaptive_max_pool1d", "input")
    op = "adaptive_max_pool1d"
    _check_1d(input, op)
    values, indices = _ops.adaptive_max_pool2d(input.unsqueeze(-2), [1, _one(output_size, "output_size", op)])
    values, indices = values.squeeze(-2), indices.squeeze(-2)
    return (values, indices) if return_indices else values


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1, dilation=1):
    """Transposed 1-D convolution; ``weight`` is (in_channels, out_channels/groups, kL)."""
    tensor_arg(input, "conv_transpose1d", "input")
    tensor_arg(weight, "conv_transpose1d", "weight")
    optional_tensor_arg(bias, "conv_transpose1d", "bias")
    op = "conv_transpose1d"
    _check_1d(input, op)
    if weight.dim() != 3:
        raise ValueError(f"{op}: weight must be 3-D (in_channels, out_channels/groups, kL), got shape "
                         f"{tuple(weight.shape)}")
    y = _C.conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(2), bias, [1, _one(stride, "stride", op)],
                            [0, _one(padding, "padding", op)], [0, _one(output_padding, "output_padding", op)],
                            groups, [1, _one(dilation, "dilation", op)])
    return y.squeeze(-2)


# ---- instance norm --------------------------------------------------------------------------

def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5):
    """Normalizes each (n, c) plane of a (N, C, *) input over its spatial dims. With
    use_input_stats and running buffers, the buffers are updated in place with the mean
    over the batch of the per-instance statistics (PyTorch's rule)."""
    tensor_arg(input, "instance_norm", "input")
    optional_tensor_arg(running_mean, "instance_norm", "running_mean")
    optional_tensor_arg(running_var, "instance_norm", "running_var")
    optional_tensor_arg(weight, "instance_norm", "weight")
    optional_tensor_arg(bias, "instance_norm", "bias")
    op = "instance_norm"
    if input.dim() < 3:
        raise ValueError(f"{op}: expected an input of at least 3 dims (N, C, *), got shape {tuple(input.shape)}")
    N, C = input.shape[0], input.shape[1]
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: running_mean and running_var must both be given or both be None")
    if not use_input_stats:
        if running_mean is None:
            raise ValueError(f"{op}: expected running_mean and running_var when use_input_stats=False")
        return _C.batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if running_mean is None:
        return _C.group_norm(input, C, weight, bias, eps)
    import nn_core as nc
    spatial = list(input.shape[2:])
    flat = input.reshape(1, N * C, *spatial)
    rm, rv = running_mean.repeat(N), running_var.repeat(N)
    w = weight.repeat(N) if weight is not None else None
    b = bias.repeat(N) if bias is not None else None
    out = _C.batch_norm(flat, rm, rv, w, b, True, momentum, eps)
    with nc.no_grad():
        running_mean.copy_(rm.reshape(N, C).mean(0))
        running_var.copy_(rv.reshape(N, C).mean(0))
    return out.reshape(*input.shape)
