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
