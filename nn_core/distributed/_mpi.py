"""The ``mpi`` backend of ``nn_core.distributed``: a process group over mpi4py (Open MPI or MPICH).

Layout of one group:
  * ``_comm``   a duplicate of MPI_COMM_WORLD that only the communication thread uses, for every
                collective of the API and of DistributedDataParallel, in submission order (so all
                ranks issue them in the same order, and the caller's thread is free to compute
                while a collective runs: mpi4py releases the GIL inside MPI calls);
  * ``_ctrl``   a second duplicate for failure notices: a rank that raises an uncaught exception
                sends one to every other rank, and a rank waiting for a collective polls for them;
  * timeouts    ``Work.wait`` waits in slices, checks for notices between slices and raises
                ``DistBackendError`` once the group's timeout has passed, so no rank hangs when
                another died, raised, or never called the collective. After such an error the
                group is broken: later collectives raise at once, and at exit the job is aborted
                (``MPI_Abort``), which also stops ranks still blocked inside MPI.

Note [Handshake first]: a synchronous collective with nothing queued runs on the caller's
thread. Its first step, the cross-rank check below, is a nonblocking all-gather that the caller
polls against the timeout and for failure notices; once it completes every rank has entered the
collective, so the blocking data transfer that follows cannot wait for a rank that raised or
hangs (a rank killed during the transfer is the launcher's to stop: mpirun ends the job).
Collectives on the communication thread are bounded by Work.wait instead.

Cross-rank checks: each checked collective first all-gathers a small int64 record (op, root,
dtype, shape) and raises on every rank, naming the tensor and the ranks, when they disagree.
"""
from __future__ import annotations

import atexit
import queue
import sys
import threading
import time
import zlib
from typing import Callable, List, Optional

import numpy as np

from ._common import DTYPE_CODES, DistBackendError, DistError, Work, dtype_name

_NOTICE_TAG = 0x6E6E  # failure notices on the control communicator
_META_SLOTS = 12       # op, root, dtype, ndim, numel, shape[0:6], shape hash
_OP_CODES = {"all_reduce": 1, "broadcast": 2, "all_gather": 3, "reduce_scatter": 4, "barrier": 5,
             "all_gather_object": 6, "broadcast_object": 7, "ddp_bucket": 8}


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover - exercised only without mpi4py
        raise RuntimeError("nn_core.distributed: the 'mpi' backend needs mpi4py on an MPI library (Debian: apt-get "
                           "install openmpi-bin libopenmpi-dev; then pip install mpi4py, or pip install "
                           "nn_core[distributed])") from e
    return MPI


def is_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


class ProcessGroupMPI:
    backend = "mpi"

    def __init__(self, timeout_s: float, abort_grace_s: float = 2.0):
        MPI = _mpi()
        self.MPI = MPI
        world = MPI.COMM_WORLD
        self.rank = world.Get_rank()
        self.size = world.Get_size()
        self.timeout_s = float(timeout_s)
        self.abort_grace_s = float(abort_grace_s)
        self._comm = world.Dup()
        self._ctrl = world.Dup()
        # Notices are polled from the caller's thread while the communication thread is inside
        # MPI: that needs MPI_THREAD_MULTIPLE (mpi4py asks for it); without it only timeouts apply.
        self._can_poll_notices = MPI.Query_thread() >= MPI.THREAD_MULTIPLE
        self._broken: Optional[str] = None
        self._closed = False
        self._queue: "queue.SimpleQueue" = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"nn_core-mpi-rank{self.rank}", daemon=True)
        self.wait_seconds = 0.0  # time callers spent blocked in Work.wait (the demo reports it)
        self.busy_seconds = 0.0  # time the communication thread spent running collectives
        self._current = "collective"  # the description of the collective on the caller's thread
        self._pending = 0        # submitted and not finished (updated under _pending_lock)
        self._pending_lock = threading.Lock()
        self._thread.start()

    # -- the communication thread -------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, work = item
            if self._broken is not None:
                work._finish(DistBackendError(f"{work.description}: the process group is broken: {self._broken}"))
                continue
            start = time.perf_counter()
            error = None
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - handed to the waiter
                error = e
            self.busy_seconds += time.perf_counter() - start
            with self._pending_lock:
                self._pending -= 1
            work._finish(error)

    def submit(self, description: str, fn: Callable[[], None]) -> Work:
        if self._closed:
            raise DistError(f"{description}: the process group was destroyed")
        if self._broken is not None:
            raise DistBackendError(f"{description}: the process group is broken: {self._broken}")
        work = Work(description, self._wait)
        with self._pending_lock:
            self._pending += 1
        self._queue.put((fn, work))
        return work

    def run(self, description: str, fn: Callable[[], None], async_op: bool) -> Optional[Work]:
        """Runs a collective: on the caller's thread when it is synchronous and nothing is queued
        (no hand-off to the communication thread: small collectives stay cheap), else submitted.
        See Note [Handshake first] for why the caller's thread cannot hang in it."""
        if not async_op:
            with self._pending_lock:
                idle = self._pending == 0
            if idle:
                if self._closed:
                    raise DistError(f"{description}: the process group was destroyed")
                if self._broken is not None:
                    raise DistBackendError(f"{description}: the process group is broken: {self._broken}")
                self._current = description
                fn()
                return None
        work = self.submit(description, fn)
        if async_op:
            return work
        work.wait()
        return None

    def _poll(self, request, description: str) -> None:
        """Polls a nonblocking request (caller's thread) until it completes, the group's timeout
        passes, or another rank's failure notice arrives."""
        deadline = time.perf_counter() + self.timeout_s
        spins = 0
        while not request.Test():
            spins += 1
            if spins % 64 == 0:
                self.check_notices(description)
                if time.perf_counter() >= deadline:
                    message = (f"{description} timed out after {self.timeout_s:g} s on rank {self.rank} of "
                               f"{self.size}: another rank died, raised, or did not call the same collective")
                    self._broken = message
                    raise DistBackendError(message)
                if spins > 4096:
                    time.sleep(0.0001)  # a long wait: leave the core to the others

    # -- waiting, timeouts and failure notices -------------------------------------------------
    def _wait(self, work: Work, timeout: Optional[float]) -> None:
        limit = self.timeout_s if timeout is None else float(timeout)
        start = time.perf_counter()
        deadline = start + limit
        try:
            # A short spin first: small collectives finish in microseconds.
            if work._done.wait(0.0005):
                return
            while not work._done.wait(0.02):
                self.check_notices(work.description)
                if time.perf_counter() >= deadline:
                    message = (f"{work.description} timed out after {limit:g} s on rank {self.rank} of {self.size}: "
                               "another rank died, raised, or did not call the same collective")
                    self._broken = message
                    raise DistBackendError(message)
        finally:
            self.wait_seconds += time.perf_counter() - start

    def check_notices(self, during: str) -> None:
        if not self._can_poll_notices or self._closed:
            return
        status = self.MPI.Status()
        if self._ctrl.iprobe(source=self.MPI.ANY_SOURCE, tag=_NOTICE_TAG, status=status):
            notice = self._ctrl.recv(source=status.Get_source(), tag=_NOTICE_TAG)
            message = (f"{during}: rank {status.Get_source()} failed ({notice}); rank {self.rank} stops "
                       "instead of waiting for it")
            self._broken = message
            raise DistBackendError(message)

    def notify_failure(self, text: str) -> None:
        """Tells every other rank that this one is failing (called by the exception hook)."""
        if self._closed or not self._can_poll_notices:
            return
        requests = [self._ctrl.isend(text, dest=r, tag=_NOTICE_TAG) for r in range(self.size) if r != self.rank]
        deadline = time.perf_counter() + self.abort_grace_s
        while requests and time.perf_counter() < deadline:
            requests = [r for r in requests if not r.Test()]
            time.sleep(0.001)

    @property
    def broken(self) -> Optional[str]:
        return self._broken

    def abort(self, code: int = 1) -> None:
        sys.stderr.flush()
        sys.stdout.flush()
        self.MPI.COMM_WORLD.Abort(code)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        if self._broken is None:
            self._thread.join(timeout=self.timeout_s)
            if not self._thread.is_alive():
                self._comm.Free()
                self._ctrl.Free()

    # -- the collectives (run on the communication thread) ------------------------------------
    def _check_meta(self, op: str, root: int, t, name: str) -> None:
        if t is None:
            fields = [_OP_CODES[op], root] + [0] * (_META_SLOTS - 2)
        else:
            shape = tuple(t.shape)
            numel = 1
            for d in shape:
                numel *= d
            dims = list(shape[:6]) + [0] * (6 - min(len(shape), 6))
            fields = [_OP_CODES[op], root, DTYPE_CODES[dtype_name(t)], len(shape), numel, *dims,
                      zlib.crc32(repr(shape).encode())]
        record = np.array(fields, dtype=np.int64)
        gathered = np.empty((self.size, _META_SLOTS), dtype=np.int64)
        # Nonblocking on both threads: MPI does not match a blocking collective with a nonblocking
        # one, and a rank may run this on its caller's thread while another runs it queued.
        request = self._comm.Iallgather(record, gathered)
        if threading.current_thread() is self._thread:
            request.Wait()  # Work.wait bounds it
        else:
            self._poll(request, self._current)
        same = (gathered == gathered[0]).all(axis=1)
        if same.all():
            return
        mismatched = [int(r) for r in np.flatnonzero(~same)]
        r = mismatched[0]
        if gathered[r, 0] != gathered[0, 0]:
            ops = {v: k for k, v in _OP_CODES.items()}
            raise DistError(f"{op}: rank 0 called {ops.get(int(gathered[0, 0]))} but rank {r} called "
                            f"{ops.get(int(gathered[r, 0]))}: every rank must call the same collectives in order")
        if gathered[r, 1] != gathered[0, 1]:
            raise DistError(f"{op}: the source rank differs between ranks: {int(gathered[0, 1])} on rank 0, "
                            f"{int(gathered[r, 1])} on rank {r}")
        names = {v: k for k, v in DTYPE_CODES.items()}
        raise DistError(f"{op}: {name} has shape {self._shape_of(gathered[0])} and dtype "
                        f"{names.get(int(gathered[0, 2]))} on rank 0 but shape {self._shape_of(gathered[r])} and "
                        f"dtype {names.get(int(gathered[r, 2]))} on rank {r} (ranks that differ from rank 0: "
                        f"{mismatched}): every rank must pass tensors of the same shape and dtype")

    @staticmethod
    def _shape_of(record) -> str:
        ndim = int(record[3])
        dims = [int(d) for d in record[5:5 + min(ndim, 6)]]
        return "(" + ", ".join(map(str, dims)) + (", ..." if ndim > 6 else "") + ("," if ndim == 1 else "") + ")"

    def _mpi_op(self, op: str):
        MPI = self.MPI
        return {"sum": MPI.SUM, "avg": MPI.SUM, "product": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX}[op]

    def all_reduce(self, buffer: np.ndarray, op: str, meta=None) -> None:
        if meta is not None:
            self._check_meta("all_reduce", 0, *meta)
        self._comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self._mpi_op(op))
        if op == "avg":
            np.divide(buffer, self.size, out=buffer, casting="unsafe")

    def broadcast(self, buffer: np.ndarray, src: int, meta=None) -> None:
        if meta is not None:
            self._check_meta("broadcast", src, *meta)
        self._comm.Bcast(_as_bytes(buffer), root=src)

    def all_gather(self, out: np.ndarray, buffer: np.ndarray, meta=None) -> None:
        if meta is not None:
            self._check_meta("all_gather", 0, *meta)
        self._comm.Allgather(_as_bytes(buffer), _as_bytes(out))

    def reduce_scatter(self, out: np.ndarray, buffer: np.ndarray, op: str, meta=None) -> None:
        if meta is not None:
            self._check_meta("reduce_scatter", 0, *meta)
        self._comm.Reduce_scatter_block(buffer, out, op=self._mpi_op(op))
        if op == "avg":
            np.divide(out, self.size, out=out, casting="unsafe")

    def barrier(self) -> None:
        self._check_meta("barrier", 0, None, "barrier")  # the handshake is itself a barrier

    def all_gather_object(self, obj) -> List:
        self._check_meta("all_gather_object", 0, None, "object")
        return self._comm.allgather(obj)

    def broadcast_object(self, obj, src: int):
        self._check_meta("broadcast_object", src, None, "object")
        return self._comm.bcast(obj, root=src)


def _as_bytes(a: np.ndarray) -> np.ndarray:
    """A contiguous array's memory as bytes (a view): moving data needs no MPI type for its dtype
    (MPI has none for float16)."""
    return a.reshape(-1).view(np.uint8)


def register_exit_handlers(get_group: Callable[[], Optional[ProcessGroupMPI]]) -> None:
    """An uncaught exception notifies the other ranks, waits the grace period and aborts the job;
    a broken group aborts the job at exit (a rank blocked inside MPI would never return)."""
    previous_hook = sys.excepthook

    def excepthook(exc_type, exc, tb):
        previous_hook(exc_type, exc, tb)
        group = get_group()
        if group is None:
            return
        if group.broken is None:
            group._broken = f"rank {group.rank} raised {exc_type.__name__}"
            group.notify_failure(f"{exc_type.__name__}: {exc}")
        time.sleep(group.abort_grace_s)
        group.abort(1)

    sys.excepthook = excepthook

    def at_exit():
        group = get_group()
        if group is not None and group.broken is not None:
            group.abort(1)
        elif group is not None:
            group.shutdown()

    atexit.register(at_exit)


def check_world(world_size: int, rank: int, where: str, group: ProcessGroupMPI) -> None:
    if world_size not in (-1, None) and int(world_size) != group.size:
        raise ValueError(f"{where}: world_size={world_size} but the MPI job has {group.size} processes (the "
                         "launcher decides: mpirun -n N)")
    if rank not in (-1, None) and int(rank) != group.rank:
        raise ValueError(f"{where}: rank={rank} but MPI gave this process rank {group.rank}")
