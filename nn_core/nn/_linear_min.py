"""A minimal ``Linear`` layer for the transformer modules (weight (out_features,
in_features), bias (out_features), PyTorch's layout and default initialisation), used
until the full ``nn_core.nn.linear`` module is merged (the lead reconciles the two)."""
from __future__ import annotations

import math

import nn_core as nc
from nn_core import functional as F

from .module import Module, Parameter


class Linear(Module):
    """``y = x @ weight.T + bias`` through the fused GEMM (``nn_core.functional.linear``)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = Parameter(nc.empty(out_features, in_features, dtype=dtype).uniform_(-bound, bound))
        if bias:
            self.bias = Parameter(nc.empty(out_features, dtype=dtype).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    def forward(self, x, activation: str = "none"):
        return F.linear(x, self.weight, self.bias, activation)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
