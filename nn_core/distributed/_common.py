"""Pieces shared by the process-group backends of ``nn_core.distributed``: ``ReduceOp``, the
errors (``DistError``, ``DistBackendError``), ``Work`` (the handle of a collective that runs on a
backend's communication thread) and the conversion of nn_core tensors to the numpy buffers an
engine reads and writes.

Conventions: a collective is described once on the caller's thread (buffers, metadata for the
cross-rank check) and run on the group's communication thread; ``Work.wait`` is where the caller
learns of its success, its failure, a timeout or another rank's failure.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Optional

import numpy as np

from .._C import Tensor


class DistError(RuntimeError):
    """An error of a collective (PyTorch's ``torch.distributed.DistError``)."""


class DistBackendError(DistError):
    """The group can no longer communicate: a timeout, or another rank failed."""


class ReduceOp:
    """How ``all_reduce`` / ``reduce_scatter`` combine the ranks' values (PyTorch's names)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    _ALL = ("sum", "avg", "product", "min", "max")

    @classmethod
    def check(cls, op, where: str) -> str:
        name = op.lower() if isinstance(op, str) else None
        if name not in cls._ALL:
            raise ValueError(f"{where}: unknown reduce op {op!r}; expected one of ReduceOp.SUM, AVG, PRODUCT, MIN, "
                             "MAX")
        return name


class Work:
    """The handle of a collective started with ``async_op=True`` (PyTorch's ``Work``).

    ``wait(timeout=None)`` blocks until it finished (the group's timeout when ``timeout`` is None)
    and raises its error; ``is_completed()`` does not block.
    """

    def __init__(self, description: str, waiter: Callable[["Work", Optional[float]], None]):
        self.description = description
        self._done = threading.Event()
        self._error: Optional[BaseException] = None
        self._waiter = waiter
        self._callbacks = []
        self.started_at = time.perf_counter()
        self.finished_at: Optional[float] = None

    def _finish(self, error: Optional[BaseException]) -> None:
        self._error = error
        self.finished_at = time.perf_counter()
        self._done.set()

    def is_completed(self) -> bool:
        return self._done.is_set()

    def is_success(self) -> bool:
        return self._done.is_set() and self._error is None

    def exception(self) -> Optional[BaseException]:
        return self._error

    def wait(self, timeout: Optional[float] = None) -> bool:
        if hasattr(timeout, "total_seconds"):
            timeout = timeout.total_seconds()
        self._waiter(self, timeout)
        if self._error is not None:
            raise self._error
        return True

    def __repr__(self) -> str:
        state = "done" if self.is_completed() else "pending"
        return f"<Work {self.description} ({state})>"


# dtype name (str(tensor.dtype) without the prefix) -> the numpy dtype the engine sees, and whether
# reductions go through float32 (numpy and MPI have no bfloat16; MPI has no float16 arithmetic).
_NUMPY_DTYPES = {
    "float32": np.float32, "float64": np.float64, "float16": np.float16, "bfloat16": None,
    "int8": np.int8, "uint8": np.uint8, "int32": np.int32, "int64": np.int64, "bool": np.bool_,
}
DTYPE_CODES = {name: i for i, name in enumerate(_NUMPY_DTYPES)}


_DTYPE_NAMES: dict = {}  # DType -> its name without the "nn_core." prefix


def dtype_name(t) -> str:
    name = _DTYPE_NAMES.get(t.dtype)
    if name is None:
        name = _DTYPE_NAMES[t.dtype] = str(t.dtype).replace("nn_core.", "")
    return name


def check_tensor(t, where: str, what: str = "tensor"):
    if not isinstance(t, Tensor):
        raise TypeError(f"{where}: {what} must be an nn_core Tensor, got {type(t).__name__}")
    device = getattr(t, "_device_str", "cpu")
    if not device.startswith("cpu"):
        raise ValueError(f"{where}: {what} is on {device}; the mpi backend takes cpu tensors (use backend='nccl' "
                         "for CUDA tensors)")
    return t


class Buffer:
    """A tensor's data as a C-contiguous numpy array for the engine.

    Zero-copy (a view of the tensor's memory) when the tensor is contiguous and its dtype is one
    numpy and the engine can use directly; otherwise a contiguous staging copy (in float32 for
    bfloat16, and for float16 / bool reductions) that ``write_back`` copies into the tensor.
    """

    def __init__(self, t, reduce: bool = False):
        name = dtype_name(t)
        self.tensor = t
        self.name = name
        staged_dtype = None
        if name == "bfloat16" or (reduce and name == "float16"):
            staged_dtype = np.float32
        elif reduce and name == "bool":
            staged_dtype = np.uint8
        if staged_dtype is None and t.is_contiguous():
            self.array = t.detach().numpy()
            self.zero_copy = True
        else:
            self.array = np.ascontiguousarray(_to_numpy(t), dtype=staged_dtype)
            self.zero_copy = False

    def write_back(self) -> None:
        if self.zero_copy:
            return
        if self.name == "bfloat16":
            from .. import from_numpy
            self.tensor.detach().copy_(from_numpy(self.array))
        else:
            out = self.tensor.detach().numpy()
            np.copyto(out, self.array.astype(out.dtype, copy=False) if self.name != "bool" else self.array != 0)


def _to_numpy(t) -> np.ndarray:
    if dtype_name(t) == "bfloat16":
        return t.detach().float().numpy()
    return t.detach().numpy()
