"""``DistributedDataParallel``: data-parallel training over ``nn_core.distributed`` (PyTorch's
``torch.nn.parallel.DistributedDataParallel``: the same constructor arguments and ``no_sync()``,
and the ``module.`` prefix in ``state_dict`` keys).

How a step runs (one process per rank, each with a replica of the module):
  * construction checks that every rank has the same parameters (names, shapes, dtypes), then
    broadcasts parameters and buffers from rank 0;
  * parameters are grouped into buckets of about ``bucket_cap_mb`` (25 MB), in reverse order of
    registration, which is about the order backward produces their gradients;
  * a post-accumulate-grad hook on each parameter copies its gradient into its bucket; when a
    bucket is full it is all-reduced (averaged) on the group's communication thread while
    backward goes on computing earlier layers' gradients; buckets are launched strictly in
    index order, so every rank issues the same collectives in the same order;
  * when the last gradient has arrived, the hook waits for the buckets and writes the averaged
    gradients back into each ``param.grad``.

Unused parameters: with ``find_unused_parameters=True`` forward walks the autograd graph of the
output and marks parameters it does not reach as ready (their slot is zero), and the ranks agree
on which parameters were used by anyone; those nobody used keep ``grad`` untouched. Without it,
a step whose backward missed parameters is reported at the next forward, naming them.
"""
from __future__ import annotations

import contextlib
import weakref
from typing import Dict, List, Optional

import numpy as np

from ... import _C
from ...autograd import no_grad
from ..module import Module

_NUMPY = {"float32": np.float32, "float64": np.float64, "float16": np.float16}


def _dtype_name(t) -> str:
    return str(t.dtype).replace("nn_core.", "")


class _Bucket:
    """A flat gradient buffer for some parameters of one dtype; slots in order of the list."""

    def __init__(self, index: int, members: List[int], params: List, dtype):
        self.index = index
        self.members = members
        self.slots: Dict[int, slice] = {}
        offset = 0
        for i in members:
            n = int(np.prod(tuple(params[i].shape), dtype=np.int64))
            self.slots[i] = slice(offset, offset + n)
            offset += n
        self.buffer = np.zeros(offset, dtype=dtype)
        self.pending = len(members)
        self.work = None


class _Reducer:
    def __init__(self, names: List[str], params: List, group, bucket_cap_bytes: int, find_unused: bool):
        self.names, self.params, self.group = names, params, group
        self.find_unused = find_unused
        self.bucket_of: Dict[int, _Bucket] = {}
        self.buckets: List[_Bucket] = []
        members: List[int] = []
        size = 0
        for i in reversed(range(len(params))):
            p = params[i]
            nbytes = int(np.prod(tuple(p.shape), dtype=np.int64)) * np.dtype(_NUMPY[_dtype_name(p)]).itemsize
            if members and (size + nbytes > bucket_cap_bytes or _dtype_name(params[members[0]]) != _dtype_name(p)):
                self._add_bucket(members)
                members, size = [], 0
            members.append(i)
            size += nbytes
        if members:
            self._add_bucket(members)
        self.armed = False
        self.ready = [False] * len(params)
        self.next_to_launch = 0
        self.locally_used = np.zeros(len(params), dtype=np.int32)
        self.handles = []
        self_ref = weakref.ref(self)
        for i, p in enumerate(params):
            self.handles.append(p.register_post_accumulate_grad_hook(_make_hook(self_ref, i)))

    def _add_bucket(self, members: List[int]) -> None:
        bucket = _Bucket(len(self.buckets), members, self.params, _NUMPY[_dtype_name(self.params[members[0]])])
        self.buckets.append(bucket)
        for i in members:
            self.bucket_of[i] = bucket

    def unready_names(self) -> List[str]:
        return [self.names[i] for i, r in enumerate(self.ready) if not r]

    def prepare_for_backward(self, outputs) -> None:
        if self.armed and self.next_to_launch < len(self.buckets):
            raise RuntimeError(
                "DistributedDataParallel: expected to have finished reduction in the prior iteration before "
                "starting a new one: these parameters did not receive gradients in that backward: "
                f"{', '.join(self.unready_names())}. Pass find_unused_parameters=True to "
                "DistributedDataParallel when some parameters do not take part in computing the loss, and make "
                "sure every forward output that requires grad takes part in the loss.")
        self.armed = True
        self.ready = [False] * len(self.params)
        self.next_to_launch = 0
        self.locally_used[:] = 0
        for b in self.buckets:
            b.pending = len(b.members)
            b.work = None
        if self.find_unused:
            used = _reachable_leaves(outputs)
            for i, p in enumerate(self.params):
                if p._impl_id in used:
                    self.locally_used[i] = 1
                else:
                    bucket = self.bucket_of[i]
                    bucket.buffer[bucket.slots[i]] = 0
                    self._mark_ready(i)

    def disarm(self) -> None:
        self.armed = False
        self.next_to_launch = len(self.buckets)

    def on_grad_ready(self, i: int) -> None:
        if not self.armed:
            return
        if self.ready[i]:
            raise RuntimeError(f"DistributedDataParallel: parameter '{self.names[i]}' received a gradient twice in one "
                               "iteration (a second backward without a forward in between, or a parameter marked "
                               "unused that backward reached); call forward again before each backward")
        self.locally_used[i] = 1
        bucket = self.bucket_of[i]
        grad = self.params[i].grad
        bucket.buffer[bucket.slots[i]].reshape(tuple(grad.shape))[...] = grad.numpy()
        self._mark_ready(i)

    def _mark_ready(self, i: int) -> None:
        self.ready[i] = True
        bucket = self.bucket_of[i]
        bucket.pending -= 1
        while self.next_to_launch < len(self.buckets) and self.buckets[self.next_to_launch].pending == 0:
            b = self.buckets[self.next_to_launch]
            b.work = self.group.submit(f"DistributedDataParallel bucket {b.index} ({b.buffer.nbytes} bytes)",
                                       _all_reduce_avg(self.group, b.buffer))
            self.next_to_launch += 1
        if self.next_to_launch == len(self.buckets) and all(self.ready):
            self._finalize()

    def _finalize(self) -> None:
        globally_used = None
        if self.find_unused:
            used = self.locally_used.copy()
            work = self.group.submit("DistributedDataParallel unused-parameter map",
                                     lambda: self.group.all_reduce(used, "max"))
        for b in self.buckets:
            b.work.wait()
        if self.find_unused:
            work.wait()
            globally_used = used
        self.armed = False
        for b in self.buckets:
            for i in b.members:
                if globally_used is not None and not globally_used[i]:
                    continue  # nobody used it: its grad stays as it was, as in PyTorch
                p = self.params[i]
                reduced = b.buffer[b.slots[i]].reshape(tuple(p.shape))
                grad = p.grad
                if grad is None:
                    p.grad = _C.from_numpy(reduced.copy())
                else:
                    grad.numpy()[...] = reduced

    def remove_hooks(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def _make_hook(reducer_ref, i: int):
    def hook(_param):
        reducer = reducer_ref()
        if reducer is not None:
            reducer.on_grad_ready(i)
    return hook


def _all_reduce_avg(group, buffer: np.ndarray):
    return lambda: group.all_reduce(buffer, "avg")


def _reachable_leaves(outputs) -> set:
    """The _impl_id of every leaf that the autograd graphs of ``outputs`` accumulate into."""
    # `alive` keeps every visited node's Python wrapper alive: pybind11 makes a new wrapper per
    # access, and the id() of a freed one may be reused by the next.
    stack, seen, leaves, alive = [], set(), set(), []
    for t in _tensors_in(outputs):
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif t.requires_grad:
            leaves.add(t._impl_id)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        alive.append(node)
        if node.name() == "AccumulateGrad":
            leaves.add(node.variable._impl_id)
            continue
        for nxt, _ in node.next_functions:
            if nxt is not None:
                stack.append(nxt)
    return leaves


def _tensors_in(obj):
    if isinstance(obj, _C.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


class DistributedDataParallel(Module):
    """Wraps ``module`` for data-parallel training: run one process per rank (``mpirun -n N``),
    call ``nn_core.distributed.init_process_group()`` first, and give each rank its shard of the
    data (``nn_core.data.DistributedSampler``). After ``loss.backward()`` every rank holds the
    gradient averaged over all ranks, so an optimizer step keeps the replicas identical.

    ``bucket_cap_mb``: bucket size in MiB (25, as PyTorch). ``find_unused_parameters``: see the
    module docstring. ``broadcast_buffers``: rank 0's buffers (e.g. BatchNorm statistics) are
    copied to every rank at each forward. ``device_ids`` / ``output_device`` / ``dim`` /
    ``check_reduction`` / ``gradient_as_bucket_view`` / ``static_graph`` are accepted for
    PyTorch compatibility (one CPU device per process; gradients are copied into the buckets).
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb: Optional[float] = 25,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False):
        super().__init__()
        from ... import distributed as dist
        for d in device_ids or []:
            if str(d).split(":")[0] not in ("cpu",):
                raise RuntimeError(f"DistributedDataParallel: device {d!r} is not available: this build of nn_core "
                                   "has only the cpu device")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn_core Module, got {type(module).__name__}")
        group = dist._get(process_group, "DistributedDataParallel")
        self.module = module
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        cap = 25 if bucket_cap_mb is None else bucket_cap_mb
        if not cap > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter that "
                               "requires a gradient")
        for n, p in named:
            if _dtype_name(p) not in _NUMPY:
                raise TypeError(f"DistributedDataParallel: parameter '{n}' has dtype {_dtype_name(p)}; supported: "
                                f"{', '.join(_NUMPY)}")
        self._check_same_parameters(dist, group, named)
        with no_grad():
            for _, p in named:
                dist.broadcast(p, 0)
            for _, b in module.named_buffers():
                if b is not None:
                    dist.broadcast(b, 0)
        object.__setattr__(self, "_group", group)
        object.__setattr__(self, "_reducer", _Reducer([n for n, _ in named], [p for _, p in named], group,
                                                      int(cap * 1024 * 1024), find_unused_parameters))

    @staticmethod
    def _check_same_parameters(dist, group, named) -> None:
        mine = [(n, tuple(p.shape), _dtype_name(p)) for n, p in named]
        everyone = [None] * group.size
        dist.all_gather_object(everyone, mine)
        for r, theirs in enumerate(everyone):
            if theirs == everyone[0]:
                continue
            for k in range(max(len(theirs), len(everyone[0]))):
                a = everyone[0][k] if k < len(everyone[0]) else None
                b = theirs[k] if k < len(theirs) else None
                if a != b:
                    raise RuntimeError(
                        f"DistributedDataParallel: the module differs between ranks: parameter {k} is "
                        f"{_describe(a)} on rank 0 but {_describe(b)} on rank {r}; every rank must build the same "
                        "model")

    @property
    def bucket_sizes(self) -> List[int]:
        """The bytes of each gradient bucket, in launch order."""
        return [b.buffer.nbytes for b in self._reducer.buckets]

    @property
    def comm_wait_seconds(self) -> float:
        """Seconds this rank has spent blocked waiting for collectives to finish (all of the group)."""
        return self._group.wait_seconds

    def forward(self, *inputs, **kwargs):
        from ... import distributed as dist
        sync = self.require_backward_grad_sync and _C.is_grad_enabled()
        if sync and self.broadcast_buffers:
            with no_grad():
                for _, b in self.module.named_buffers():
                    if b is not None:
                        dist.broadcast(b, 0)
        output = self.module(*inputs, **kwargs)
        if sync:
            self._reducer.prepare_for_backward(output)
        else:
            self._reducer.disarm()
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Inside it, backward accumulates gradients locally without communicating; the first
        backward after it averages the accumulated gradients over the ranks."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _remove_hooks(self) -> None:
        self._reducer.remove_hooks()


def _describe(entry) -> str:
    if entry is None:
        return "missing"
    name, shape, dtype = entry
    return f"'{name}' of shape {shape} and dtype {dtype}"


__all__ = ["DistributedDataParallel"]
