"""Python-side parts of ``nn_core.Tensor``: printing, conversion to Python values and
numpy, iteration, and the ``shape``/``device`` properties.

The class itself is ``nn_core._C.Tensor`` (pybind11); operators and most methods are
bound in C++ so that small ops stay cheap. What is added here needs Python objects.
"""
from __future__ import annotations

import numpy as np

from . import _C
from ._checks import tensor_arg as _tensor_arg

Tensor = _C.Tensor


class Size(tuple):
    """The shape of a tensor: a tuple of ints (as ``torch.Size``)."""

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"nn_core.Size({list(self)})"


class device:
    """Where a tensor lives. This build has ``cpu`` only; ``str(d)`` is ``'cpu'``."""

    __slots__ = ("type", "index")

    def __init__(self, spec: str = "cpu"):
        spec = str(spec)
        self.type, _, idx = spec.partition(":")
        self.index = int(idx) if idx else None

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"


def _shape(self) -> Size:
    return Size(self._shape)


_size_binding = _C.Tensor.size  # the C++ method (raises IndexError for a bad dim); Tensor.size becomes _size


def _size(self, dim=None):
    if dim is None:
        return Size(self._shape)
    return self._shape[dim] if -len(self._shape) <= dim < len(self._shape) else _size_binding(self, dim)


def _device(self) -> device:
    return device(self._device_str)


def _to_numpy_for_print(t) -> np.ndarray:
    t = t.detach()
    if t.dtype == _C.DType.bfloat16:
        t = t.float()
    return t.numpy()


_PRINT_THRESHOLD, _EDGE_ITEMS = 1000, 3


def _summary_for_print(t) -> np.ndarray:
    """A small array that numpy prints exactly as it would print all of ``t`` when summarising
    (threshold 0, 3 edge items): each dim longer than 6 keeps its first 3 and last 3 entries
    and one never-shown filler between them, so the printed '...' falls where it should. Used
    above the print threshold, so that printing a huge (e.g. expanded, stride-0) tensor never
    materialises it (numpy cannot even describe one of more than 2**63 bytes)."""
    def corners(v, d):  # narrow (views) dim by dim; only the small pieces are copied by cat
        if d == v.dim():
            return v
        n = v._shape[d]
        if n <= 2 * _EDGE_ITEMS:
            return corners(v, d + 1)
        head = corners(v.narrow(d, 0, _EDGE_ITEMS + 1), d + 1)
        tail = corners(v.narrow(d, n - _EDGE_ITEMS, _EDGE_ITEMS), d + 1)
        return _C.cat([head, tail], d)

    return _to_numpy_for_print(corners(t.detach(), 0))


def _repr(self) -> str:
    summarised = self.numel() > _PRINT_THRESHOLD
    prefix = "tensor("
    if self.numel() == 0 and self.dim() > 0:  # no numpy array: numpy rejects e.g. (2**40, 2**40, 0)
        body = f"[], size={tuple(self._shape)}"
    else:
        arr = _summary_for_print(self) if summarised else _to_numpy_for_print(self)
        body = np.array2string(arr, separator=", ", prefix=prefix, threshold=0 if summarised else _PRINT_THRESHOLD,
                               edgeitems=_EDGE_ITEMS,
                               precision=4, floatmode="maxprec_equal" if arr.dtype.kind == "f" else "maxprec")
        if arr.dtype.kind == "f" and arr.ndim == 0:
            body = np.format_float_positional(arr.item(), precision=4, trim=".") if np.isfinite(arr) else str(arr.item())
    extras = []
    if self.dtype not in (_C.DType.float32, _C.DType.int64, _C.DType.bool):
        extras.append(f"dtype={self.dtype!r}")
    if self.grad_fn is not None:
        extras.append(f"grad_fn={self.grad_fn!r}")
    elif self.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"


def _item(self):
    if self.numel() != 1:
        raise ValueError(f"item: a Tensor with {self.numel()} elements cannot be converted to a Python scalar")
    return _to_numpy_for_print(self).reshape(()).item()


def _tolist(self):
    return _to_numpy_for_print(self).tolist()


def _array(self, dtype=None, copy=None):
    arr = self.numpy()
    if dtype is not None and arr.dtype != dtype:
        return arr.astype(dtype)
    if copy:
        return arr.copy()
    return arr


def _bool(self) -> bool:
    if self.numel() != 1:
        raise RuntimeError(f"Boolean value of Tensor with {self.numel()} elements is ambiguous")
    return bool(_item(self))


def _float(self) -> float:
    return float(_item(self))


def _int(self) -> int:
    return int(_item(self))


def _index(self) -> int:
    if self.dtype.is_floating_point or self.numel() != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return int(_item(self))


def _iter(self):
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    for i in range(len(self)):
        yield self[i]


def _data(self):
    return self.detach()


def _reduce(self):
    raise TypeError("nn_core tensors are not picklable; save them with nn_core.save() or convert with .numpy()")


def _deepcopy(self, memo):
    """copy.deepcopy: a detached clone that keeps requires_grad (a Parameter stays one).
    Views are copied as separate tensors: storage sharing between tensors is not kept."""
    if id(self) in memo:
        return memo[id(self)]
    data = self.detach().clone()
    if type(self) is Tensor:
        out = data.requires_grad_(self.requires_grad) if self.requires_grad else data
    else:  # Parameter and other subclasses take (data, requires_grad)
        out = type(self)(data, requires_grad=self.requires_grad)
    memo[id(self)] = out
    return out


def _device_str(spec) -> str:
    """'cpu', 'cuda:0', a device object or an int (a CUDA ordinal, as PyTorch) as a string."""
    if isinstance(spec, device):
        return str(spec)
    if isinstance(spec, int) and not isinstance(spec, bool):
        return f"cuda:{spec}"
    if isinstance(spec, str):
        return spec
    raise TypeError(f"expected a device (str, nn_core.device or int), got {type(spec).__name__}")


def _is_dtype(obj) -> bool:
    return isinstance(obj, _C.DType)


_c_to = _C.Tensor.to


def _to(self, *args, **kwargs):
    """to(dtype) / to(device) / to(device, dtype) / to(other) / to(device=..., dtype=...), as
    torch.Tensor.to; ``non_blocking`` and ``copy`` are accepted (copy=True always copies)."""
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to(): unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif _is_dtype(a):
            dtype = a
        elif isinstance(a, (str, device, int)) and not isinstance(a, bool):
            dev = a
        elif isinstance(a, bool):  # torch's positional non_blocking / copy
            continue
        else:
            raise TypeError(f"to(): expected a dtype, a device or a tensor, got {type(a).__name__}")
    out = self
    if dev is not None and _device_str(dev) != str(self.device):
        out = _c_to(out, _device_str(dev))
    if dtype is not None and dtype != out.dtype:
        out = _c_to(out, dtype)
    if copy and out is self:
        out = self.clone()
    return out


def _type(self, dtype=None):
    """type() -> 'nn_core.FloatTensor'-style name; type(dtype) -> a cast (as torch.Tensor.type)."""
    if dtype is None:
        names = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                 "int64": "Long", "int32": "Int", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
        return f"nn_core.{names.get(self.dtype.name, self.dtype.name)}Tensor"
    if isinstance(dtype, str):
        table = {"torch.FloatTensor": _C.DType.float32, "torch.DoubleTensor": _C.DType.float64,
                 "torch.LongTensor": _C.DType.int64, "torch.IntTensor": _C.DType.int32}
        key = dtype.replace("nn_core.", "torch.")
        if key not in table:
            raise ValueError(f"type(): unknown tensor type {dtype!r}")
        dtype = table[key]
    return _to(self, dtype)


def _t(self):
    """Transpose of a tensor of at most 2 dims (torch.Tensor.t)."""
    if self.dim() > 2:
        raise RuntimeError(f"t(): expects a tensor with <= 2 dimensions, but self is {self.dim()}D")
    return self.transpose(0, 1) if self.dim() == 2 else self


def _install() -> None:
    _C.DType.__repr__ = lambda self: f"nn_core.{self.name}"
    _C.DType.__str__ = lambda self: f"nn_core.{self.name}"
    Tensor.shape = property(_shape, doc="The tensor's sizes as an nn_core.Size.")
    Tensor.device = property(_device, doc="The tensor's device.")
    Tensor.data = property(_data, doc="A detached alias of the tensor (shares storage).")
    Tensor.size = _size
    Tensor.__repr__ = _repr
    Tensor.__str__ = _repr
    Tensor.item = _item
    Tensor.tolist = _tolist
    Tensor.__array__ = _array
    Tensor.__array_priority__ = 1000  # numpy defers `ndarray + Tensor` to Tensor.__radd__
    Tensor.__bool__ = _bool
    Tensor.__float__ = _float
    Tensor.__int__ = _int
    Tensor.__index__ = _index
    Tensor.__iter__ = _iter
    Tensor.__reduce_ex__ = lambda self, protocol: _reduce(self)
    Tensor.__deepcopy__ = _deepcopy
    Tensor.is_floating_point = lambda self: self.dtype.is_floating_point
    Tensor.new_zeros = lambda self, *size, dtype=None: _C._full(_sizes(size), 0.0, dtype or self.dtype)
    Tensor.new_ones = lambda self, *size, dtype=None: _C._full(_sizes(size), 1.0, dtype or self.dtype)
    Tensor.to = _to
    Tensor.type = _type
    Tensor.t = _t
    Tensor.view_as = lambda self, other: self.view(*_tensor_arg(other, "view_as", "other").shape)
    Tensor.reshape_as = lambda self, other: self.reshape(*_tensor_arg(other, "reshape_as", "other").shape)
    Tensor.is_cuda = property(lambda self: self.device.type == "cuda", doc="True for a CUDA tensor.")
    Tensor.cpu = lambda self: _to(self, "cpu")


def _sizes(size) -> list:
    if len(size) == 1 and not isinstance(size[0], int):
        return [int(s) for s in size[0]]
    return [int(s) for s in size]
