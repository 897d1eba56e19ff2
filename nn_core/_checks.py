"""Argument checks shared by the Python-level functions of nn_core (functional, factories,
composites, Tensor methods written in Python): each raises TypeError naming the op, the
argument and the type it must have, up front, so that a wrong type never surfaces as an
AttributeError from deep inside (found by tools/api_fuzz.py)."""
from __future__ import annotations

import builtins as _builtins
import numbers

from . import _C


def tensor_arg(value, op: str, name: str = "input"):
    """``value`` when it is a Tensor, else TypeError naming ``op`` and ``name``."""
    if not isinstance(value, _C.Tensor):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor, got {type(value).__name__}")
    return value


def optional_tensor_arg(value, op: str, name: str):
    """``value`` when it is None or a Tensor, else TypeError."""
    if value is not None and not isinstance(value, _C.Tensor):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor or None, got {type(value).__name__}")
    return value


def int_arg(value, op: str, name: str) -> int:
    """``value`` as a Python int: an int, a bool, an object with __index__ (numpy integers) or a
    1-element integer tensor; else TypeError."""
    if isinstance(value, numbers.Integral):
        return _builtins.int(value)
    if hasattr(type(value), "__index__") and not isinstance(value, _C.Tensor):
        return _builtins.int(value.__index__())
    if isinstance(value, _C.Tensor) and not value.dtype.is_floating_point and value.numel() == 1:
        return _builtins.int(value.item())
    raise TypeError(f"{op}: argument '{name}' must be an int, got {type(value).__name__}")
