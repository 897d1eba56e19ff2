"""Convolution, pooling and normalization layers (PyTorch's names, parameters, buffers
and default initialisation): Conv1d, Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d,
AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d, GroupNorm. The arithmetic is in
nn_core.functional (csrc/ops/conv.cpp, pool.cpp, norm.cpp); layouts are NCHW."""
from __future__ import annotations

import math

import nn_core as nc
from nn_core import functional as F

from .module import Module, Parameter


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _uniform_param(shape, bound, dtype):
    t = nc.empty(*shape, dtype=dtype)
    t.uniform_(-bound, bound)
    return Parameter(t)


class _ConvNd(Module):
    """Weight (out, in/groups, *kernel) (transposed: (in, out/groups, *kernel)) and bias
    (out), initialised as PyTorch does: kaiming_uniform(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)),
    and the bias U(+-1/sqrt(fan_in)), fan_in = weight.shape[1] * prod(kernel)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, transposed, dtype):
        super().__init__()
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{type(self).__name__}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{type(self).__name__}: padding must be 'same', 'valid' or ints, got {padding!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.groups, self.padding_mode = dilation, groups, padding_mode
        self.transposed = transposed
        shape = ((in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups))
        shape += tuple(kernel_size)
        fan_in = shape[1] * math.prod(kernel_size)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        dtype = dtype or nc.float32
        self.weight = _uniform_param(shape, bound, dtype)
        self.bias = _uniform_param((out_channels,), bound, dtype) if bias else None

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding not in (0, (0,), (0, 0)):
            s += f", padding={self.padding}"
        if self.dilation not in (1, (1,), (1, 1)):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         padding if isinstance(padding, str) else _pair(padding), _pair(dilation), groups, bias,
                         padding_mode, False, dtype)

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        one = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,)  # noqa: E731
        super().__init__(in_channels, out_channels, one(kernel_size), one(stride),
                         padding if isinstance(padding, str) else one(padding), one(dilation), groups, bias,
                         padding_mode, False, dtype)

    def forward(self, input):
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride), _pair(padding),
                         _pair(dilation), groups, bias, padding_mode, True, dtype)
        self.output_padding = _pair(output_padding)

    def forward(self, input):
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class _BatchNorm(Module):
    """weight (ones) and bias (zeros) when affine; buffers running_mean (zeros),
    running_var (ones) and num_batches_tracked (int64) when track_running_stats.
    momentum=None uses the cumulative average 1/num_batches_tracked, as PyTorch does."""

    _expected_dims: tuple = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = dtype or nc.float32
        if affine:
            self.weight = Parameter(nc.ones(num_features, dtype=dtype))
            self.bias = Parameter(nc.zeros(num_features, dtype=dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", nc.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", nc.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", nc.tensor(0, dtype=nc.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.fill_(0.0)
            self.running_var.fill_(1.0)
            self.num_batches_tracked.fill_(0)

    def forward(self, input):
        if input.dim() not in self._expected_dims:
            raise ValueError(f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._expected_dims)} "
                             f"input, got shape {tuple(input.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / int(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        use_batch = self.training or self.running_mean is None
        track = self.running_mean if (not self.training or self.track_running_stats) else None
        track_var = self.running_var if (not self.training or self.track_running_stats) else None
        return F.batch_norm(input, track, track_var, self.weight, self.bias, use_batch, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    _expected_dims = (4,)


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        dtype = dtype or nc.float32
        self.weight = Parameter(nc.ones(num_channels, dtype=dtype)) if affine else None
        self.bias = Parameter(nc.zeros(num_channels, dtype=dtype)) if affine else None

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
