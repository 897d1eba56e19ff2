"""Argument checks shared by the Python-level functions of nn_core (functional, factories,
composites, Tensor methods written in Python): each raises TypeError / ValueError naming
the op, the argument and the rule, up front, so that a wrong type never surfaces as an
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


def number_arg(value, op: str, name: str) -> float:
    """``value`` as a Python float: a real number, a bool or a 1-element tensor; else TypeError."""
    if isinstance(value, _C.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{op}: argument '{name}' must be a number or a 1-element tensor, got a tensor of "
                             f"shape {tuple(value._shape)}")
        return _builtins.float(value.item())
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: argument '{name}' must be a number, got {type(value).__name__}")
    return _builtins.float(value)


def int_arg(value, op: str, name: str) -> int:
    """``value`` as a Python int (an int, a bool or an integer-valued object with __index__); else TypeError."""
    if isinstance(value, numbers.Integral):
        return _builtins.int(value)
    if hasattr(type(value), "__index__") and not isinstance(value, _C.Tensor):
        return _builtins.int(value.__index__())
    if isinstance(value, _C.Tensor) and not value.dtype.is_floating_point and value.numel() == 1:
        return _builtins.int(value.item())
    raise TypeError(f"{op}: argument '{name}' must be an int, got {type(value).__name__}")


def str_arg(value, op: str, name: str, choices=None) -> str:
    """``value`` when it is a str (one of ``choices`` when given); else TypeError / ValueError."""
    if not isinstance(value, str):
        raise TypeError(f"{op}: argument '{name}' must be a str, got {type(value).__name__}")
    if choices is not None and value not in choices:
        raise ValueError(f"{op}: argument '{name}' must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def int_list_arg(value, op: str, name: str) -> list:
    """An int or a sequence of ints as a list of Python ints; else TypeError."""
    if isinstance(value, (str, bytes, dict)) or isinstance(value, _C.Tensor):
        raise TypeError(f"{op}: argument '{name}' must be an int or a sequence of ints, got {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        return [_builtins.int(value)]
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{op}: argument '{name}' must be an int or a sequence of ints, "
                        f"got {type(value).__name__}") from None
    return [int_arg(v, op, name) for v in items]
