"""``Linear`` (a fused GEMM with bias), ``Identity``-like shape layers ``Flatten`` and
``Unflatten``, and ``Dropout``.

Linear's weight is (out_features, in_features), PyTorch's layout, so its state_dict
loads PyTorch's unchanged; its forward is ``nn_core.functional.linear`` (one GEMM with
the bias added in the write-back for float32).
"""
from __future__ import annotations

import math

import nn_core as nc
from nn_core import functional as F

from . import init
from .module import Module, Parameter


class Linear(Module):
    """``y = x @ weight.T + bias``. Initialised as PyTorch does: kaiming_uniform_ with
    ``a = sqrt(5)`` (i.e. U(-1/sqrt(in), 1/sqrt(in))) for the weight, U(-1/sqrt(in), 1/sqrt(in))
    for the bias."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear: in_features and out_features must be >= 0, got {in_features} and {out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(nc.empty(out_features, in_features, dtype=dtype or nc.float32))
        if bias:
            self.bias = Parameter(nc.empty(out_features, dtype=dtype or nc.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flattens dims ``start_dim..end_dim`` into one (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` into ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        dim = self.dim % x.dim()
        shape = tuple(x.shape)
        return x.reshape(shape[:dim] + self.unflattened_size + shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training mode and scales the rest by
    ``1 / (1 - p)``; the identity in eval mode. The mask comes from the seeded generator."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p = float(p)

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
