"""``nn_core.distributed``: collectives between processes, PyTorch's ``torch.distributed`` API on
nn_core tensors, carried by an existing engine: MPI through mpi4py (``backend="mpi"``, CPU tensors)
and NCCL for CUDA tensors (``backend="nccl"``, once nn_core's CUDA backend exists).

    import nn_core.distributed as dist
    dist.init_process_group("mpi")          # launched with: mpirun -n 2 python train.py
    dist.all_reduce(t, op=dist.ReduceOp.SUM)

Conventions: collectives change their tensors in place and return None, or a ``Work`` with
``async_op=True``. Contiguous tensors of dtypes the engine knows are handed to it without a copy
(a numpy view of the tensor's memory); others go through a staging copy. Every collective checks
first that all ranks passed the same op, root, shape and dtype, and raises ``DistError`` naming the
tensor and the ranks otherwise. Waiting is bounded by the group's ``timeout``: see ``_mpi.py`` for
what happens when a rank dies or raises.
"""
from __future__ import annotations

import datetime
from typing import List, Optional

import numpy as np

from ._common import Buffer, DistBackendError, DistError, ReduceOp, Work, check_tensor, dtype_name
from . import _mpi, _nccl

_group = None  # the default (world) process group, or None
_exit_handlers_registered = False
DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)  # PyTorch's default


class GroupMember:
    WORLD = None  # PyTorch's spelling of "the default group"


def is_available() -> bool:
    return True


def is_mpi_available() -> bool:
    return _mpi.is_available()


def is_nccl_available() -> bool:
    return _nccl.is_available()


def is_initialized() -> bool:
    return _group is not None


def _seconds(timeout) -> float:
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    seconds = timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)
    if not seconds > 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    return seconds


def init_process_group(backend: Optional[str] = None, init_method: Optional[str] = None, timeout=None,
                       world_size: int = -1, rank: int = -1, *, abort_grace=2.0) -> None:
    """Joins this process to the default group.

    ``backend``: "mpi" (default; rank and world size come from the MPI launcher, e.g.
    ``mpirun -n 2 python train.py``) or "nccl". ``timeout`` (a timedelta or seconds, 30 minutes by
    default) bounds every wait for a collective. ``abort_grace`` (seconds): how long a failing
    rank waits, after telling the others, before it aborts the job. ``init_method`` is accepted for
    PyTorch compatibility; the MPI launcher already connected the processes, so only None or
    "env://" are meaningful.
    """
    global _group
    if _group is not None:
        raise RuntimeError("init_process_group: trying to initialize the default process group twice")
    backend = (backend or "mpi").lower()
    seconds = _seconds(timeout)
    if init_method not in (None, "env://"):
        raise ValueError(f"init_process_group: init_method={init_method!r} is not supported: the MPI launcher "
                         "connects the processes (use None)")
    if backend == "mpi":
        group = _mpi.ProcessGroupMPI(seconds, abort_grace_s=float(abort_grace))
        try:
            _mpi.check_world(world_size, rank, "init_process_group", group)
        except ValueError:
            group.shutdown()
            raise
        _group = group
        global _exit_handlers_registered
        if not _exit_handlers_registered:
            _mpi.register_exit_handlers(lambda: _group)
            _exit_handlers_registered = True
    elif backend == "nccl":
        _nccl.create_group(seconds)
    else:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; expected 'mpi' or 'nccl'")


def destroy_process_group(group=None) -> None:
    global _group
    if _group is not None:
        _group.shutdown()
    _group = None


def _get(group, where: str):
    if group is not None and group is not _group:
        raise ValueError(f"{where}: only the default group is supported (pass group=None)")
    if _group is None:
        raise RuntimeError(f"{where}: the default process group has not been initialized; call "
                           "nn_core.distributed.init_process_group() first")
    return _group


def get_rank(group=None) -> int:
    return _get(group, "get_rank").rank


def get_world_size(group=None) -> int:
    return _get(group, "get_world_size").size


def get_backend(group=None) -> str:
    return _get(group, "get_backend").backend


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduces ``tensor`` over all ranks in place (SUM, AVG, PRODUCT, MIN, MAX)."""
    g = _get(group, "all_reduce")
    check_tensor(tensor, "all_reduce")
    op = ReduceOp.check(op, "all_reduce")
    _check_reducible(tensor, op, "all_reduce")
    buf = Buffer(tensor, reduce=True)
    op = _bool_op(tensor, op)

    def run():
        g.all_reduce(buf.array, op, meta=(tensor, "the tensor"))
        buf.write_back()
    return g.run(f"all_reduce({op}, shape {tuple(tensor.shape)})", run, async_op)


def broadcast(tensor, src: int, group=None, async_op: bool = False):
    """Copies rank ``src``'s ``tensor`` into every other rank's ``tensor``."""
    g = _get(group, "broadcast")
    check_tensor(tensor, "broadcast")
    _check_rank(src, g, "broadcast", "src")
    buf = Buffer(tensor)

    def run():
        g.broadcast(buf.array, src, meta=(tensor, "the tensor"))
        buf.write_back()
    return g.run(f"broadcast(src={src}, shape {tuple(tensor.shape)})", run, async_op)


def all_gather(tensor_list: List, tensor, group=None, async_op: bool = False):
    """Fills ``tensor_list[r]`` with rank r's ``tensor`` (one output tensor per rank, each of
    ``tensor``'s shape and dtype)."""
    g = _get(group, "all_gather")
    check_tensor(tensor, "all_gather")
    _check_rank_list(tensor_list, tensor, g.size, "all_gather", "tensor_list", "the input's")
    src = Buffer(tensor)
    outs = [Buffer(t) for t in tensor_list]

    def run():
        gathered = np.empty((g.size,) + src.array.shape, dtype=src.array.dtype)
        g.all_gather(gathered, src.array, meta=(tensor, "the tensor"))
        for r, out in enumerate(outs):
            np.copyto(out.array, gathered[r])
            out.write_back()
    return g.run(f"all_gather(shape {tuple(tensor.shape)})", run, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op: bool = False):
    """Gathers every rank's ``input_tensor`` into ``output_tensor``, which has world_size times its
    first dimension (ranks concatenated), or a new leading dimension of world_size (ranks stacked)."""
    g = _get(group, "all_gather_into_tensor")
    check_tensor(input_tensor, "all_gather_into_tensor", "input_tensor")
    check_tensor(output_tensor, "all_gather_into_tensor", "output_tensor")
    _check_stacked(output_tensor, input_tensor, g.size, "all_gather_into_tensor", "output_tensor")
    src, out = Buffer(input_tensor), Buffer(output_tensor)

    def run():
        g.all_gather(out.array.reshape((g.size,) + src.array.shape), src.array, meta=(input_tensor, "input_tensor"))
        out.write_back()
    return g.run(f"all_gather_into_tensor(shape {tuple(input_tensor.shape)})", run, async_op)


def reduce_scatter(output, input_list: List, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduces ``input_list[r]`` over all ranks into rank r's ``output``."""
    g = _get(group, "reduce_scatter")
    check_tensor(output, "reduce_scatter", "output")
    op = ReduceOp.check(op, "reduce_scatter")
    _check_rank_list(input_list, output, g.size, "reduce_scatter", "input_list", "the output's")
    _check_reducible(output, op, "reduce_scatter")
    out = Buffer(output, reduce=True)
    stacked = np.stack([Buffer(t, reduce=True).array for t in input_list])  # one send buffer: a copy
    op = _bool_op(output, op)

    def run():
        g.reduce_scatter(out.array, stacked, op, meta=(output, "the output"))
        out.write_back()
    return g.run(f"reduce_scatter({op}, shape {tuple(output.shape)})", run, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op: bool = False):  # noqa: A002
    """Reduces ``input`` (world_size chunks of ``output``'s shape, concatenated or stacked along
    dim 0) over all ranks and keeps chunk r on rank r."""
    g = _get(group, "reduce_scatter_tensor")
    check_tensor(output, "reduce_scatter_tensor", "output")
    check_tensor(input, "reduce_scatter_tensor", "input")
    op = ReduceOp.check(op, "reduce_scatter_tensor")
    _check_stacked(input, output, g.size, "reduce_scatter_tensor", "input")
    _check_reducible(output, op, "reduce_scatter_tensor")
    out, src = Buffer(output, reduce=True), Buffer(input, reduce=True)
    op = _bool_op(output, op)

    def run():
        g.reduce_scatter(out.array, src.array, op, meta=(output, "the output"))
        out.write_back()
    return g.run(f"reduce_scatter_tensor({op}, shape {tuple(output.shape)})", run, async_op)


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Returns when every rank has called it (bounded by the group's timeout)."""
    g = _get(group, "barrier")
    return g.run("barrier", g.barrier, async_op)


def all_gather_object(object_list: List, obj, group=None) -> None:
    """Fills ``object_list`` (of world_size entries) with every rank's picklable ``obj``."""
    g = _get(group, "all_gather_object")
    if not isinstance(object_list, list) or len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list must be a list of world_size={g.size} entries")
    result = []
    g.run("all_gather_object", lambda: result.append(g.all_gather_object(obj)), False)
    object_list[:] = result[0]


def broadcast_object_list(object_list: List, src: int = 0, group=None) -> None:
    """Replaces ``object_list``'s entries by rank ``src``'s (picklable objects)."""
    g = _get(group, "broadcast_object_list")
    _check_rank(src, g, "broadcast_object_list", "src")
    result = []
    g.run("broadcast_object_list", lambda: result.append(g.broadcast_object(list(object_list), src)), False)
    object_list[:] = result[0]


def save(obj, path, src: int = 0, group=None, **kwargs) -> None:
    """Rank ``src`` writes ``obj`` with ``nn_core.save`` (atomically), then every rank waits at a
    barrier, so that the file is complete when any rank goes on (e.g. to read it)."""
    g = _get(group, "save")
    _check_rank(src, g, "save", "src")
    if g.rank == src:
        from .. import save as save_file
        save_file(obj, path, **kwargs)
    barrier()


def save_checkpoint(path, src: int = 0, group=None, **objects) -> None:
    """``nn_core.checkpoint.save(path, **objects)`` on rank ``src`` only, then a barrier. Pass
    ``model=ddp.module`` (not the DDP wrapper): the file then has no ``module.`` prefix and no trace
    of the world size, so any world size (or a single process) loads it."""
    g = _get(group, "save_checkpoint")
    _check_rank(src, g, "save_checkpoint", "src")
    if g.rank == src:
        from .. import checkpoint
        checkpoint.save(path, **objects)
    barrier()


def _check_rank(rank, g, where: str, what: str) -> None:
    if not isinstance(rank, (int, np.integer)) or not 0 <= int(rank) < g.size:
        raise ValueError(f"{where}: {what}={rank!r} is not a rank of the group (world size {g.size})")


def _check_rank_list(tensors, like, size: int, op: str, name: str, like_name: str) -> None:
    """One tensor per rank, each of `like`'s shape and dtype (all_gather's outputs,
    reduce_scatter's inputs)."""
    if not isinstance(tensors, (list, tuple)) or len(tensors) != size:
        got = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{op}: {name} must be a list of world_size={size} tensors, got {got}")
    for i, t in enumerate(tensors):
        check_tensor(t, op, f"{name}[{i}]")
        if tuple(t.shape) != tuple(like.shape) or t.dtype != like.dtype:
            raise ValueError(f"{op}: {name}[{i}] has shape {tuple(t.shape)} and dtype {t.dtype}; "
                             f"expected {like_name} shape {tuple(like.shape)} and dtype {like.dtype}")


def _check_stacked(big, small, size: int, where: str, what: str) -> None:
    small_shape, big_shape = tuple(small.shape), tuple(big.shape)
    concatenated = small_shape and big_shape == (small_shape[0] * size,) + small_shape[1:]
    stacked = big_shape == (size,) + small_shape
    if not (concatenated or stacked) or big.dtype != small.dtype:
        raise ValueError(f"{where}: {what} has shape {big_shape} and dtype {big.dtype}; expected world_size={size} "
                         f"chunks of shape {small_shape} (shape {(size,) + small_shape} or "
                         f"{((small_shape[0] * size,) + small_shape[1:]) if small_shape else '-'}) and dtype "
                         f"{small.dtype}")
    if not big.is_contiguous():
        raise ValueError(f"{where}: {what} must be contiguous")


def _check_reducible(t, op: str, where: str) -> None:
    if op == "avg" and dtype_name(t) not in ("float32", "float64", "float16", "bfloat16"):
        raise TypeError(f"{where}: ReduceOp.AVG needs a floating-point tensor, got {dtype_name(t)}")


def _bool_op(t, op: str) -> str:
    """bool tensors: SUM is a logical or and PRODUCT a logical and (as for PyTorch's bool tensors)."""
    return {"sum": "max", "product": "min"}.get(op, op) if dtype_name(t) == "bool" else op


def _default_group():
    """The default group (internal: DistributedDataParallel uses its communication thread)."""
    return _get(None, "DistributedDataParallel")


__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available", "is_mpi_available",
           "is_nccl_available", "get_rank", "get_world_size", "get_backend", "all_reduce", "broadcast",
           "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "barrier",
           "all_gather_object", "broadcast_object_list", "save", "save_checkpoint", "ReduceOp", "Work",
           "DistError", "DistBackendError", "GroupMember", "DEFAULT_TIMEOUT"]
