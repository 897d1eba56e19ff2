"""PyTorch's everyday tensor functions that nn_core builds from other ops (the composite
rows of csrc/ops/ops.schema: masked_fill, lerp, addcmul, outer, tril, triu, flip, roll,
repeat, tile, narrow, all, any; and select), with PyTorch's Python signatures: each is a module
function ``nn_core.NAME(input, ...)`` and a Tensor method ``t.NAME(...)``."""
from __future__ import annotations

import builtins as _builtins

from . import _C
from ._C import Tensor
from ._checks import tensor_arg as _tensor_arg

_ops = _C.ops


def _as_tensor_like(value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        return value
    return _C._full([], _builtins.float(value), like.dtype)


def _dims(dim) -> list:
    if dim is None:
        return []
    if isinstance(dim, int):
        return [dim]
    return [_builtins.int(d) for d in dim]


def _sizes(args) -> list:
    if len(args) == 1 and not isinstance(args[0], int):
        return [_builtins.int(s) for s in args[0]]
    return [_builtins.int(s) for s in args]


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """Elements where ``mask`` is True set to ``value`` (mask broadcast to input's shape)."""
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(f"masked_fill: only supports a 0-dimensional value tensor, got {value.dim()} dims")
        value = value.item()
    return _ops.masked_fill(input, mask, _builtins.float(value))


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """input + weight * (end - input); weight a number or a tensor."""
    return _ops.lerp(input, end, _as_tensor_like(weight, _tensor_arg(input, "lerp")))


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """input + value * tensor1 * tensor2."""
    return _ops.addcmul(input, tensor1, tensor2, _builtins.float(value))


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-D tensors."""
    return _ops.outer(input, vec2)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle (j - i <= diagonal) of the last two dims; the rest zero."""
    return _ops.tril(input, diagonal)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle (j - i >= diagonal) of the last two dims; the rest zero."""
    return _ops.triu(input, diagonal)


def flip(input: Tensor, dims) -> Tensor:
    """input reversed along ``dims`` (a copy, as torch.flip)."""
    return _ops.flip(input, _dims(dims))


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Elements shifted circularly along ``dims`` (flattened when dims is None)."""
    return _ops.roll(input, _dims(shifts), _dims(dims))


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """input[..., start:start + length, ...] along ``dim`` (a view)."""
    if isinstance(start, Tensor):
        start = start.item()
    return _ops.narrow(input, dim, _builtins.int(start), _builtins.int(length))


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001  (PyTorch's name)
    """True where every element (along ``dim``, or of the whole tensor) is nonzero."""
    return _ops.all(input, _dims(dim), keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where some element (along ``dim``, or of the whole tensor) is nonzero."""
    return _ops.any(input, _dims(dim), keepdim)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """input[..., index, ...] along ``dim``: the dim removed (a view)."""
    return _ops.select(input, dim, _builtins.int(index))


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tensor.repeat: input tiled ``sizes`` times per dim (len(sizes) >= input.dim())."""
    return _ops.repeat(input, _sizes(sizes))


def tile(input: Tensor, dims) -> Tensor:
    """torch.tile: as repeat, with dims padded by leading 1s to input.dim()."""
    _tensor_arg(input, "tile")
    dims = _dims(dims)
    return _ops.repeat(input, [1] * (input.dim() - len(dims)) + dims)


FUNCTIONS = ["masked_fill", "lerp", "addcmul", "outer", "tril", "triu", "flip", "roll", "narrow", "select", "all",
             "any", "tile"]


def install(namespace: dict) -> None:
    """Module functions into ``namespace`` (nn_core's) and the Tensor methods."""
    for name in FUNCTIONS:
        namespace[name] = globals()[name]
    for name in FUNCTIONS + ["repeat"]:
        setattr(Tensor, name, globals()[name])
    Tensor.masked_fill_ = lambda self, mask, value: self.copy_(masked_fill(self, mask, value))
