"""``nn_core.functional``: activation and normalisation functions (PyTorch's
``torch.nn.functional`` names and signatures)."""
from __future__ import annotations

import math

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


# ---- attention and the transformer building blocks (csrc/ops/attention.cpp, layer_norm.cpp) ----

def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale=None, enable_gqa: bool = False):
    """``softmax(query @ key^T * scale + mask) @ value`` as one fused, flash-style kernel.

    query (B, Hq, Lq, D), key (B, Hkv, Lk, D), value (B, Hkv, Lk, Dv); 3-D inputs
    (H, L, D) are accepted too. ``Hq`` must be a multiple of ``Hkv`` (grouped-query
    attention; unlike PyTorch, ``enable_gqa`` is accepted but not required). ``attn_mask``
    broadcasts to (B, Hq, Lq, Lk): bool (True = attend) or floating (added to the
    scores); it gets no gradient. ``is_causal`` is top-left aligned (query i sees keys
    j <= i), as in PyTorch. Dropout uses the library generator (``manual_seed``). Rows
    with no visible key give zeros (PyTorch's math path gives NaN there). No Lq x Lk
    matrix is stored in forward or backward.
    """
    del enable_gqa
    if query.dim() == 3 and key.dim() == 3 and value.dim() == 3:
        m = attn_mask
        out = _C.scaled_dot_product_attention(query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0), m,
                                              dropout_p, is_causal, scale)
        return out.squeeze(0)
    return _C.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale)


def _sdpa_reference(query, key, value, attn_mask=None, is_causal: bool = False, scale=None, dropout_mask=None,
                    dropout_p: float = 0.0):
    """The readable reference of ``scaled_dot_product_attention``: the full Lq x Lk score
    matrix, materialised and normalised with ``softmax``, built from differentiable
    nn_core ops (so its gradients come from autograd). Same conventions as the fused
    kernel (top-left causal, rows with no visible key give zeros). ``dropout_mask``
    (bool, broadcast to the scores) replaces the random mask when given."""
    import nn_core as nc
    B, Hq, Lq, D = query.shape
    Hkv, Lk = key.shape[1], key.shape[2]
    if Hkv != Hq:
        g = Hq // Hkv
        key = key.unsqueeze(2).expand(B, Hkv, g, Lk, D).reshape(B, Hq, Lk, D)
        value = value.unsqueeze(2).expand(B, Hkv, g, Lk, value.shape[3]).reshape(B, Hq, Lk, value.shape[3])
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    s = query.matmul(key.transpose(-2, -1)) * scale
    ninf = nc.full([], float("-inf"), dtype=s.dtype)
    if attn_mask is not None:
        if attn_mask.dtype == nc.bool:
            s = _C.where(attn_mask, s, ninf)
        else:
            s = s + attn_mask.to(s.dtype)
    if is_causal:
        visible = nc.arange(Lq).reshape(Lq, 1) >= nc.arange(Lk).reshape(1, Lk)
        s = _C.where(visible, s, ninf)
    any_visible = (s > ninf).to(s.dtype).amax(-1, keepdim=True) > 0
    s = _C.where(any_visible, s, nc.zeros([], dtype=s.dtype))
    p = softmax(s, -1) * any_visible.to(s.dtype)
    if dropout_mask is not None:
        p = p * dropout_mask.to(s.dtype) * (1.0 / (1.0 - dropout_p))
    return p.matmul(value)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalises over the trailing ``normalized_shape`` dims (fused kernel with backward)."""
    return _C.layer_norm(input, _shape_list(normalized_shape), weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing dims; eps defaults to the
    dtype's machine epsilon (as PyTorch)."""
    return _C.rms_norm(input, _shape_list(normalized_shape), weight, eps)


def embedding(input, weight, padding_idx=None):
    """``weight[input]``; the row ``padding_idx`` receives no gradient."""
    return _C.embedding(input, weight, padding_idx)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zeroes elements with probability ``p`` (library generator, see ``manual_seed``) and
    scales the others by ``1/(1-p)``; the identity when not ``training``. ``inplace`` is
    accepted for compatibility and computes out of place."""
    del inplace
    return _C.dropout(input, p, training)


def _shape_list(shape):
    return [int(shape)] if isinstance(shape, int) else [int(s) for s in shape]
