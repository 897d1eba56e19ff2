"""Modules over the misc functional ops (nn_core/_misc_nn.py): ELU, SELU, CELU, PReLU,
KLDivLoss, CosineSimilarity, PairwiseDistance and EmbeddingBag, with PyTorch's constructor
arguments and parameter names (PReLU.weight (num_parameters,), EmbeddingBag.weight
(num_embeddings, embedding_dim)), so a torch state_dict loads unchanged."""
from __future__ import annotations

from typing import Optional

import nn_core as nc
from nn_core import functional as F

from .module import Module, Parameter


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = float(alpha), inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.selu(input, self.inplace)


class CELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = float(alpha), inplace

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class PReLU(Module):
    """x if x > 0 else weight * x; weight (num_parameters,) filled with ``init``: one slope
    shared by all channels, or one per channel (dim 1 of the input)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be >= 1, got {num_parameters}")
        self.num_parameters, self.init = int(num_parameters), float(init)
        self.weight = Parameter(nc.full((self.num_parameters,), self.init, dtype=dtype or nc.float32))
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        with nc.no_grad():
            self.weight.fill_(self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class KLDivLoss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        super().__init__()
        if size_average is not None or reduce is not None:
            from nn_core._misc_nn import _legacy_reduction
            reduction = _legacy_reduction(size_average, reduce, reduction)
        if reduction not in ("none", "mean", "sum", "batchmean"):
            raise ValueError(f"KLDivLoss: reduction must be 'none', 'mean', 'sum' or 'batchmean', got '{reduction}'")
        self.reduction, self.log_target = reduction, bool(log_target)

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineSimilarity(Module):
    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = int(dim), float(eps)

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = float(p), float(eps), bool(keepdim)

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class EmbeddingBag(Module):
    """Bags of embeddings reduced by ``mode`` ('sum', 'mean' or 'max'); weight
    (num_embeddings, embedding_dim) ~ N(0, 1), the ``padding_idx`` row zero. forward(input,
    offsets=None, per_sample_weights=None): input (B, N), or 1-D with offsets."""

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: Optional[float] = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                 _weight=None, include_last_offset: bool = False, padding_idx: Optional[int] = None, device=None,
                 dtype=None):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode has to be one of sum, mean or max, got '{mode}'")
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("EmbeddingBag: max_norm, scale_grad_by_freq and sparse are not supported")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"EmbeddingBag: padding_idx {padding_idx} must be within [-{num_embeddings}, "
                                 f"{num_embeddings})")
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.mode, self.include_last_offset, self.padding_idx = mode, bool(include_last_offset), padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = None, float(norm_type), False, False
        if _weight is not None:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"EmbeddingBag: _weight of shape {tuple(_weight.shape)} must be "
                                 f"({num_embeddings}, {embedding_dim})")
            w = _weight.detach()
        else:
            w = nc.randn(num_embeddings, embedding_dim, dtype=dtype or nc.float32)
            if padding_idx is not None:
                w[padding_idx] = 0.0
        self.weight = Parameter(w)
        if device is not None:
            self.to(device)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, mode: str = "mean", include_last_offset: bool = False,
                        padding_idx: Optional[int] = None, **kwargs):
        if embeddings.dim() != 2:
            raise ValueError("EmbeddingBag.from_pretrained: embeddings parameter is expected to be 2-dimensional")
        bag = cls(embeddings.shape[0], embeddings.shape[1], _weight=embeddings, mode=mode,
                  include_last_offset=include_last_offset, padding_idx=padding_idx, **kwargs)
        bag.weight.requires_grad_(not freeze)
        return bag

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, mode=self.mode, per_sample_weights=per_sample_weights,
                               include_last_offset=self.include_last_offset, padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}, mode='{self.mode}'{pad}"
