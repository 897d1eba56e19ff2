"""``nn_core.functional``: activation and normalisation functions (PyTorch's
``torch.nn.functional`` names and signatures)."""
from __future__ import annotations

import math

from . import _C
from ._checks import int_arg as _int_arg
from ._checks import optional_tensor_arg as _optional_tensor_arg
from ._checks import tensor_arg as _tensor_arg

relu = _C.relu
sigmoid = _C.sigmoid
tanh = _C.tanh
silu = _C.silu
hardswish = _C.ops.hardswish  # x * relu6(x + 3) / 6 (MobileNetV3)
mish = _C.ops.mish  # x * tanh(softplus(x))


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
    _tensor_arg(input, "adaptive_avg_pool2d")
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
    op = "scaled_dot_product_attention"
    _tensor_arg(query, op, "query"), _tensor_arg(key, op, "key"), _tensor_arg(value, op, "value")
    _optional_tensor_arg(attn_mask, op, "attn_mask")
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
    return _C.ops.layer_norm(input, _shape_list(normalized_shape), weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing dims; eps defaults to the
    dtype's machine epsilon (as PyTorch)."""
    return _C.ops.rms_norm(input, _shape_list(normalized_shape), weight, eps)


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


# ---- losses --------------------------------------------------------------------------
# Written with differentiable ops (log_softmax, logsumexp, where, ...): no kernels or
# derivatives of their own (STYLE.md 2). Class-index targets select log-probabilities
# through a one-hot mask built by comparison (no gradient flows through it), so that
# ignore_index, per-class weights and label smoothing are plain products and sums.

def _reduce(loss, reduction: str, op: str):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got '{reduction}'")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got '{reduction}'")


def _classes_last(input, target, op: str, probs: bool):
    """(N, C, d1, ...) -> (M, C) rows, target to (M,) (or (M, C) for probabilities); also
    the shape that reduction='none' restores. A 1-D input is one unbatched sample."""
    if input.dim() == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-dim tensor")
    if input.dim() == 1:
        rows = input.unsqueeze(0)
        tgt = target.unsqueeze(0)
        return rows, tgt, ()
    C = input.shape[1]
    out_shape = (input.shape[0],) + tuple(input.shape[2:])
    if input.dim() == 2:
        return input, target, out_shape
    perm = [0] + list(range(2, input.dim())) + [1]
    rows = input.permute(perm).reshape(-1, C)
    tgt = target.permute(perm).reshape(-1, C) if probs else target.reshape(-1)
    return rows, tgt, out_shape


def _index_target_mask(logp, target, ignore_index: int, op: str):
    """One-hot (M, C) mask of the targets (rows of ignored targets all zero), and the
    (M,) float mask of the rows that count."""
    from . import arange
    import numpy as np
    M, C = logp.shape
    if target.dtype.is_floating_point or target.dtype == _C.DType.bool:
        raise TypeError(f"{op}: class-index targets must be an integer tensor, got {target.dtype}")
    if tuple(target.shape) != (M,):
        raise ValueError(f"{op}: expected a target of shape ({M},) for input rows of shape ({M}, {C}), got "
                         f"{tuple(target.shape)}")
    t = target.numpy()
    bad = t[(t != ignore_index) & ((t < 0) | (t >= C))]
    if bad.size:
        raise IndexError(f"{op}: target {int(bad[0])} is out of bounds for {C} classes (targets must be in [0, {C}) "
                         f"or equal ignore_index={ignore_index})")
    onehot = (target.unsqueeze(1) == arange(C)).to(logp.dtype)
    valid = None
    if 0 <= ignore_index < C and np.any(t == ignore_index):
        valid = (target != ignore_index).to(logp.dtype)
        onehot = onehot * valid.unsqueeze(1)
    elif np.any(t == ignore_index):
        valid = (target != ignore_index).to(logp.dtype)
    return onehot, valid


def _check_weight(weight, C: int, op: str):
    _optional_tensor_arg(weight, op, "weight")
    if weight is not None and tuple(weight.shape) != (C,):
        raise ValueError(f"{op}: weight must have shape ({C},) (one per class), got {tuple(weight.shape)}")


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    """Negative log-likelihood of class indices given log-probabilities ``input`` (N, C, ...).

    'mean' divides by the summed weights of the counted targets (PyTorch's rule)."""
    _tensor_arg(input, "nll_loss"), _tensor_arg(target, "nll_loss", "target")
    ignore_index = _int_arg(ignore_index, "nll_loss", "ignore_index")
    return _nll(input, target, weight, ignore_index, reduction, 0.0, "nll_loss")


def _nll(logp_in, target, weight, ignore_index, reduction, label_smoothing, op):
    _check_reduction(reduction, op)
    logp, tgt, out_shape = _classes_last(logp_in, target, op, probs=False)
    C = logp.shape[1]
    _check_weight(weight, C, op)
    onehot, valid = _index_target_mask(logp, tgt, ignore_index, op)
    sel = onehot * weight if weight is not None else onehot
    nll = -(sel * logp).sum(1)
    wsum = sel.sum(1)
    if label_smoothing > 0.0:
        smooth = -((logp * weight) if weight is not None else logp).sum(1)
        if valid is not None:
            smooth = smooth * valid
    if reduction == "none":
        loss = nll if label_smoothing == 0.0 else nll * (1 - label_smoothing) + smooth * (label_smoothing / max(C, 1))
        return loss.reshape(out_shape)
    loss = nll.sum()
    if label_smoothing > 0.0:
        loss = loss * (1 - label_smoothing) + smooth.sum() * (label_smoothing / max(C, 1))
    return loss / wsum.sum() if reduction == "mean" else loss


def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    """Cross entropy of logits ``input`` (N, C, d1, ...) or (C,) against class indices
    (N, d1, ...) or class probabilities of the input's shape.

    Options as PyTorch's: per-class ``weight``, ``ignore_index`` (indices only),
    ``label_smoothing`` (mixes the target with the uniform distribution) and
    ``reduction``. Numerically stable for any logits (log_softmax subtracts the row max)."""
    op = "cross_entropy"
    _tensor_arg(input, op), _tensor_arg(target, op, "target"), _optional_tensor_arg(weight, op, "weight")
    ignore_index = _int_arg(ignore_index, op, "ignore_index")
    _check_reduction(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}: expected floating-point logits, got {input.dtype}")
    logp_full = log_softmax(input, 1 if input.dim() > 1 else 0)
    if target.dtype.is_floating_point:
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(f"{op}: probability targets must have the input's shape {tuple(input.shape)}, got "
                             f"{tuple(target.shape)}")
        logp, tgt, out_shape = _classes_last(logp_full, target, op, probs=True)
        C = logp.shape[1]
        _check_weight(weight, C, op)
        if label_smoothing > 0.0:
            tgt = tgt * (1 - label_smoothing) + label_smoothing / max(C, 1)  # C = 0: no classes, no terms
        terms = logp * tgt
        if weight is not None:
            terms = terms * weight
        loss = -terms.sum(1)
        if reduction == "none":
            return loss.reshape(out_shape)
        return loss.sum() / logp.shape[0] if reduction == "mean" else loss.sum()
    return _nll(logp_full, target, weight, ignore_index, reduction, label_smoothing, op)


def _check_same_shape(input, target, op: str) -> None:
    _tensor_arg(input, op), _tensor_arg(target, op, "target")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} differ "
                         "(they must match)")


def mse_loss(input, target, reduction: str = "mean"):
    """Mean squared error ``(input - target)^2``."""
    _check_same_shape(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input, target, reduction: str = "mean"):
    """Mean absolute error ``|input - target|``."""
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (beta = 0: L1)."""
    _check_same_shape(input, target, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = (input - target).abs()
    if beta == 0.0:
        return _reduce(d, reduction, "smooth_l1_loss")
    return _reduce(_C.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    _check_same_shape(input, target, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = (input - target).abs()
    return _reduce(_C.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), reduction, "huber_loss")


def _softplus_exact(z):
    """log(1 + exp(z)) as logsumexp(0, z): exact, stable for any z, gradient sigmoid(z)
    everywhere (including z = 0, where max/abs formulations pick a subgradient)."""
    from . import zeros_like
    return _C.logsumexp(_C.stack([zeros_like(z), z], 0), 0, False)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None):
    """Binary cross entropy of logits: ``-w [pw * t * log s(x) + (1 - t) * log(1 - s(x))]``
    written as ``(1 - t) x + (1 + (pw - 1) t) softplus(-x)``, which never overflows."""
    op = "binary_cross_entropy_with_logits"
    _check_same_shape(input, target, op)
    _check_reduction(reduction, op)
    sp = _softplus_exact(-input)
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * sp
    else:
        loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, op)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    """Binary cross entropy of probabilities; logs are clamped at -100 (PyTorch's rule)."""
    op = "binary_cross_entropy"
    _check_same_shape(input, target, op)
    log_p = input.log().clamp(min=-100.0)
    log_q = (1 - input).log().clamp(min=-100.0)
    loss = -(target * log_p + (1 - target) * log_q)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, op)

# ---- one_hot, normalize, distances, kl_div, elu / selu / celu, prelu, embedding_bag (nn_core/_misc_nn.py)
from ._misc_nn import (celu, cosine_similarity, elu, embedding_bag, kl_div, normalize, one_hot,  # noqa: E402
                       pairwise_distance, prelu, selu)

# ---- spatial: resampling, padding, patches, grids, 1-D pools, instance norm (nn_core/_spatial.py) ----
from ._spatial import (adaptive_avg_pool1d, adaptive_max_pool1d, adaptive_max_pool2d, affine_grid,  # noqa: E402,F401
                       avg_pool1d, conv_transpose1d, fold, grid_sample, instance_norm, interpolate, max_pool1d, pad,
                       pixel_shuffle, pixel_unshuffle, unfold, upsample, upsample_bilinear, upsample_nearest)
