"""``nn_core.nn.utils``: gradient clipping (clip_grad_norm_, clip_grad_value_) and
parameters_to_vector / vector_to_parameters."""
from __future__ import annotations

import math
from typing import Iterable, Union

import nn_core as nc
from nn_core import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scales all gradients together so that their joint ``norm_type`` norm is at most
    ``max_norm`` (coefficient ``max_norm / (total + 1e-6)``, capped at 1, as PyTorch).
    Returns the total norm before clipping (a 0-dim float tensor)."""
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return nc.tensor(0.0)
    with nc.no_grad():
        if math.isinf(norm_type):
            norms = [g.abs().amax().to(nc.float64) for g in grads]
            total = nc.stack(norms).amax()
        else:
            norms = [(g.abs() ** norm_type).sum().to(nc.float64) for g in grads]
            total = nc.stack(norms).sum() ** (1.0 / norm_type)
        total_value = total.item()
        if error_if_nonfinite and not math.isfinite(total_value):
            raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                               f"{total_value}, so they cannot be clipped (error_if_nonfinite=True)")
        coef = max_norm / (total_value + 1e-6)
        if coef < 1.0:
            for g in grads:
                g.mul_(coef)
    return total.to(grads[0].dtype)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamps every gradient element to ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    with nc.no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    return nc.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    offset = 0
    with nc.no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec[offset:offset + n].reshape(tuple(p.shape)))
            offset += n


# `nn_core.nn.utils.rnn` (PyTorch's path: pack_padded_sequence, pad_sequence, ...) lives in nn/rnn_utils.py.
import sys as _sys  # noqa: E402

from . import rnn_utils as rnn  # noqa: E402

_sys.modules[__name__ + ".rnn"] = rnn
del _sys
