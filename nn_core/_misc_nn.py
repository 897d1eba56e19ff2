"""nn_core.functional's one_hot, normalize, cosine_similarity, pairwise_distance, kl_div,
elu / selu / celu, prelu and embedding_bag, with PyTorch's signatures and defaults. Each
calls its composite row of csrc/ops/ops.schema (csrc/ops/misc_nn_ops.cpp), so it is traced
by the inference runtime and differentiable where PyTorch's is. Re-exported by
nn_core/functional.py."""
from __future__ import annotations

import builtins as _builtins

from ._checks import tensor_arg
from . import _C
from ._C import Tensor

_ops = _C.ops

# SELU's constants (Klambauer et al. 2017), as torch.nn.functional.selu.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding: shape tensor.shape + (num_classes,); num_classes=-1 means
    tensor.max() + 1. Class indices outside [0, num_classes) raise."""
    tensor_arg(tensor, "one_hot", "tensor")
    num_classes = _builtins.int(num_classes)
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("one_hot: can not infer the total number of classes from an empty tensor")
        num_classes = _builtins.int(tensor.max().item()) + 1
    return _ops.one_hot(tensor, num_classes)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """input / max(||input||_p along dim, eps)."""
    if out is not None:
        raise TypeError("normalize: out= is not supported")
    return _ops.normalize(input, _builtins.float(p), _builtins.int(dim), _builtins.float(eps))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along dim (inputs broadcast)."""
    return _ops.cosine_similarity(x1, x2, _builtins.int(dim), _builtins.float(eps))


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim."""
    return _ops.pairwise_distance(x1, x2, _builtins.float(p), _builtins.float(eps), _builtins.bool(keepdim))


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence, input holding log-probabilities: target * (log target -
    input) pointwise (log_target: exp(target) * (target - input)); reduction 'none', 'sum',
    'mean' (over all elements) or 'batchmean' (sum / input.size(0), the true KL per sample).
    PyTorch warns that 'mean' is not the KL per sample; nn_core says it here instead."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _ops.kl_div(input, target, reduction, _builtins.bool(log_target))


def _maybe_inplace(input: Tensor, result: Tensor, inplace: bool) -> Tensor:
    return input.copy_(result) if inplace else result


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _maybe_inplace(input, _ops.elu(input, _builtins.float(alpha), 1.0, 1.0), inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with SELU's fixed alpha and scale."""
    return _maybe_inplace(input, _ops.elu(input, SELU_ALPHA, SELU_SCALE, 1.0), inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x / alpha) - 1)."""
    alpha = _builtins.float(alpha)
    if alpha == 0:
        raise ValueError("celu: ZeroDivisionError, alpha cannot be 0")
    return _maybe_inplace(input, _ops.elu(input, alpha, 1.0, 1.0 / alpha), inplace)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x if x > 0 else weight * x, weight one value or one per channel (dim 1)."""
    return _ops.prelu(input, weight)


def embedding_bag(input: Tensor, weight: Tensor, offsets=None, max_norm=None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights=None, include_last_offset: bool = False, padding_idx=None) -> Tensor:
    """Sums, means or maxes of bags of embeddings: input (B, N) is B bags of N indices;
    a 1-D input is split into bags at ``offsets``. Indices equal to ``padding_idx`` are
    left out of their bag (and of a mean's count); empty bags give zeros."""
    if max_norm is not None:
        raise NotImplementedError("embedding_bag: max_norm (renormalising rows in place) is not supported")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding_bag: scale_grad_by_freq and sparse gradients are not supported")
    if padding_idx is not None:
        padding_idx = _builtins.int(padding_idx)
    return _ops.embedding_bag(weight, input, offsets, mode, per_sample_weights, padding_idx,
                              _builtins.bool(include_last_offset))


FUNCTIONS = ["one_hot", "normalize", "cosine_similarity", "pairwise_distance", "kl_div", "elu", "selu", "celu",
             "prelu", "embedding_bag"]
