"""``nn_core.functional``: activation and normalisation functions (PyTorch's
``torch.nn.functional`` names and signatures)."""
from __future__ import annotations

from . import _C

relu = _C.relu
sigmoid = _C.sigmoid
tanh = _C.tanh
silu = _C.silu


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
