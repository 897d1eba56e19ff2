"""``nn_core.functional``: activation and normalisation functions (PyTorch's
``torch.nn.functional`` names and signatures)."""
from __future__ import annotations

from . import _C

relu = _C.relu
sigmoid = _C.sigmoid
tanh = _C.tanh
silu = _C.silu


def linear(input, weight, bias=None, activation: str = "none"):
    """``input @ weight.T + bias``, then ``activation`` ('none', 'relu' or 'gelu').

    float32 and bfloat16 run as one GEMM with the bias and activation fused into the
    write-back (the ``activation`` argument is an nn_core extension of PyTorch's API).
    """
    return _C.linear(input, weight, bias, activation)


def gelu(input, approximate: str = "none"):
    """GELU: exact ``x * Phi(x)``, or the tanh approximation with ``approximate='tanh'``."""
    return _C.gelu(input, approximate)


def leaky_relu(input, negative_slope: float = 0.01):
    return _C.leaky_relu(input, negative_slope)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta * x)) / beta``, computed without overflow; linear above ``threshold``."""
    return _C.softplus(input, beta, threshold)


def softmax(input, dim: int):
    return _C.softmax(input, dim)


def log_softmax(input, dim: int):
    return _C.log_softmax(input, dim)


# ---- convolution, pooling, normalization (csrc/ops/conv.cpp, pool.cpp, norm.cpp) ------
# NCHW, PyTorch's signatures and semantics. float32 convolutions run im2col + the packed
# GEMM (a direct kernel for depthwise); float64 takes the same path with the reference
# GEMM; float16/bfloat16 compute in float32.

def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """2-D convolution. ``padding`` is an int, a pair, ``'valid'`` or ``'same'`` (stride 1)."""
    return _C.conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv2d_relu(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """``relu(conv2d(...))`` with the bias and ReLU fused into the GEMM write-back
    (an nn_core extension; PyTorch has no single function for it)."""
    return _C.conv2d(input, weight, bias, stride, padding, dilation, groups, relu=True)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """1-D convolution on (N, C, L) or (C, L): conv2d over a (N, C, 1, L) view."""
    return _C.conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1,
                     dilation=1):
    """Transposed 2-D convolution; ``weight`` is (in_channels, out_channels/groups, kH, kW)."""
    return _C.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max pooling; with ``return_indices`` also the int64 flat indices (h * W + w) into
    each input plane, as PyTorch returns them."""
    return _C.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None):
    return _C.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def adaptive_avg_pool2d(input, output_size):
    """``output_size``: an int or a pair; ``None`` in the pair keeps that input size."""
    if isinstance(output_size, (tuple, list)):
        output_size = [input.shape[-2 + i] if s is None else s for i, s in enumerate(output_size)]
    return _C.adaptive_avg_pool2d(input, output_size)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5):
    """Batch normalization over (N, C, *). In training, batch statistics are used and the
    running statistics (when given) are updated in place:
    ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance)."""
    return _C.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    return _C.group_norm(input, num_groups, weight, bias, eps)
