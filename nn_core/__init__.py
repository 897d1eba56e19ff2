"""nn_core: a neural-network library with a native C++ tensor core and autograd engine.

    >>> import nn_core as nc
    >>> x = nc.randn(3, 4, requires_grad=True)
    >>> (x @ x.T).relu().sum().backward()
    >>> x.grad.shape
    nn_core.Size([3, 4])
"""
from __future__ import annotations

import builtins as _builtins
import functools
from typing import Optional

from . import _C
from . import _tensor
from ._tensor import Size, Tensor, device
from . import autograd
from .autograd import enable_grad, no_grad, set_grad_enabled
from . import functional
from ._checks import tensor_arg as _tensor_arg

__version__ = "0.1.0"

_tensor._install()

from . import nn  # noqa: E402  (needs the installed Tensor methods)
from . import optim  # noqa: E402
from . import data  # noqa: E402
from . import metrics  # noqa: E402
from . import serialization  # noqa: E402
from .serialization import CheckpointError, load, save  # noqa: E402
from . import checkpoint  # noqa: E402
from . import quantized  # noqa: E402  (int8 tensors and ops)
from . import accelerator, backends, cuda  # noqa: E402  (PyTorch's device queries; cpu-only build)

# ---- dtypes ------------------------------------------------------------------------
dtype = _C.DType
float32 = float_ = _C.DType.float32
float64 = double = _C.DType.float64
float16 = half = _C.DType.float16
bfloat16 = _C.DType.bfloat16
int8 = _C.DType.int8
uint8 = _C.DType.uint8
int32 = _C.DType.int32
int64 = long = _C.DType.int64
bool = _C.DType.bool  # noqa: A001  (PyTorch's name)


def get_default_dtype():
    return float32


# ---- module-level state --------------------------------------------------------------
set_num_threads = _C.set_num_threads
get_num_threads = _C.get_num_threads
memory_stats = _C.memory_stats
reset_peak_memory_stats = _C.reset_peak_memory_stats
empty_cache = _C.empty_cache
is_grad_enabled = _C.is_grad_enabled
manual_seed = _C.manual_seed
initial_seed = _C.initial_seed
from_numpy = _C.from_numpy
from_dlpack = _C.from_dlpack
backend_info = _C.backend_info

# ---- ops (module functions; the same ops are Tensor methods) --------------------------
_OP_FUNCTIONS = [
    "neg", "exp", "log", "log1p", "sqrt", "rsqrt", "abs", "relu", "sigmoid", "tanh", "silu", "logical_not",
    "sin", "cos", "erf", "reciprocal", "square", "sign", "floor", "ceil", "round", "trunc", "isnan", "isfinite",
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge",
    "logical_and", "logical_or", "logical_xor", "where", "clamp", "clip",
    "sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "var", "std", "logsumexp",
    "softmax", "log_softmax", "matmul", "bmm", "addmm", "reshape", "permute", "transpose", "broadcast_to", "squeeze",
    "unsqueeze", "flatten", "split", "chunk", "cat", "stack",
    "gather", "scatter", "scatter_add", "index_select", "cumsum", "cumprod", "sort", "argsort", "topk",
]
for _name in _OP_FUNCTIONS:
    globals()[_name] = getattr(_C, _name)
from . import _composites  # noqa: E402

_composites.install(globals())
from . import _misc  # noqa: E402  (masked_select, norm, einsum, unique, ... and nn_core.linalg)

_misc.install(globals())
import sys as _sys  # noqa: E402

_sys.modules[__name__ + ".linalg"] = linalg  # noqa: F821  (installed by _misc)
del _sys
negative, multiply, divide, subtract = neg, mul, div, sub
concat = concatenate = cat
del _name


# ---- factories -----------------------------------------------------------------------
builtins_bool = _builtins.bool


def _sizes(size) -> list:
    if len(size) == 1 and not isinstance(size[0], _builtins.int):
        return [_builtins.int(s) for s in size[0]]
    return [_builtins.int(s) for s in size]


def _finish(t: Tensor, requires_grad: builtins_bool, device=None) -> Tensor:
    if device is not None:
        t = t.to(device)  # a clear error for a device this build lacks
    if requires_grad:
        t.requires_grad_(True)
    return t




def tensor(data, dtype: Optional[_C.DType] = None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, numpy arrays or tensors).

    Python floats give float32, ints int64, bools bool; numpy arrays keep their dtype.
    """
    if isinstance(data, Tensor):
        t = data.detach().clone() if dtype is None or data.dtype == dtype else data.detach().to(dtype)
        if t._storage_id() == data._storage_id():
            t = t.clone()
    else:
        t = _C._tensor_from_object(data, dtype)
    return _finish(t, requires_grad, device)


as_tensor = tensor


def zeros(*size, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    return _finish(_C._full(_sizes(size), 0.0, dtype or float32), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    return _finish(_C._full(_sizes(size), 1.0, dtype or float32), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    dtype = dtype or float32
    if dtype == bool:
        # A bool byte must hold 0 or 1: kernels read bools as bool, and an uninitialised byte
        # (say 190) is undefined behaviour there (UBSan's finding), so empty bools start False.
        return _finish(_C._full(_sizes(size), 0.0, dtype), requires_grad, device)
    return _finish(_C._empty(_sizes(size), dtype), requires_grad, device)


def full(size, fill_value, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    if dtype is None:
        dtype = bool if isinstance(fill_value, builtins_bool) else (int64 if isinstance(fill_value, _builtins.int) else float32)
    return _finish(_C._full(_sizes((size,)) if not isinstance(size, _builtins.int) else [size], _builtins.float(fill_value),
                              dtype),
                   requires_grad, device)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    _tensor_arg(t, "zeros_like")
    return zeros(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    _tensor_arg(t, "ones_like")
    return ones(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def empty_like(t: Tensor, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    _tensor_arg(t, "empty_like")
    return empty(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    _tensor_arg(t, "full_like")
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    """Values from ``start`` (default 0) up to, not including, ``end`` in steps of ``step``."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = int64 if _builtins.all(isinstance(v, _builtins.int) for v in (start, end, step)) else float32
    return _finish(_C._arange(_builtins.float(start), _builtins.float(end), _builtins.float(step), dtype), requires_grad, device)


def rand(*size, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the seeded counter-based generator."""
    return _finish(_C._rand(_sizes(size), dtype or float32), requires_grad, device)


def randn(*size, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    """Standard normal samples from the seeded counter-based generator."""
    return _finish(_C._randn(_sizes(size), dtype or float32), requires_grad, device)


def randint(low, high=None, size=None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` means low = 0)."""
    if size is None:
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint: missing the 'size' argument")
    return _finish(_C._randint(_builtins.int(low), _builtins.int(high),
                               _sizes((size,)) if not isinstance(size, _builtins.int) else [size], dtype or int64),
                   False, device)


def rand_like(t: Tensor, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    _tensor_arg(t, "rand_like")
    return rand(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def randn_like(t: Tensor, dtype=None, device=None, requires_grad: builtins_bool = False) -> Tensor:
    _tensor_arg(t, "randn_like")
    return randn(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


class inference_mode(no_grad):
    """torch.inference_mode: here the same as no_grad (a context manager and a decorator);
    ``inference_mode(False)`` leaves gradient mode as it is."""

    def __init__(self, mode: builtins_bool = True):
        super().__init__()
        self._mode = mode

    def __enter__(self):
        if self._mode:
            return super().__enter__()
        return None

    def __exit__(self, *exc):
        if self._mode:
            return super().__exit__(*exc)
        return False

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper


def is_tensor(obj) -> builtins_bool:
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> int:
    _tensor_arg(t, "numel")
    return t.numel()


__all__ = [
    "Tensor", "Size", "device", "dtype", "autograd", "functional", "no_grad", "enable_grad", "set_grad_enabled",
    "tensor", "as_tensor", "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
    "arange", "rand", "randn", "randint", "rand_like", "randn_like", "inference_mode", "from_numpy", "from_dlpack", "manual_seed", "memory_stats",
    "reset_peak_memory_stats", "set_num_threads", "get_num_threads", "is_grad_enabled", "is_tensor",
    "save", "load", "CheckpointError", "checkpoint", "serialization", "accelerator", "backends", "cuda",
] + _OP_FUNCTIONS + _composites.FUNCTIONS + _misc.FUNCTIONS + ["fmod", "remainder", "linalg"]


# PyTorch's dtype aliases that shadow Python builtins (this module calls _builtins.float /
# _builtins.int by name for that reason).
float = float32  # noqa: A001
int = int32  # noqa: A001
