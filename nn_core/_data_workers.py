"""Worker processes for ``DataLoader(num_workers=N)``.

The main process keeps the sampling: it draws each epoch's order exactly as with
``num_workers=0`` and sends every batch's indices, numbered, to the workers in turn
(batch i goes to worker i % N), keeping ``prefetch_factor * N`` batches in flight. Each
worker fetches its samples, collates them and puts ``(epoch, batch number, batch)`` on one
result queue; the main process yields batches in batch-number order, holding early
arrivals, so the sequence is the one a single process would give. Tensors cross the
process boundary by pickling (``Tensor.__reduce_ex__``, numpy buffers).

Each worker runs nn_core with one thread, seeds nn_core's and Python's generators with
``base_seed + worker_id`` (``base_seed`` drawn per epoch from the loader's generator) and
calls ``worker_init_fn(worker_id)``; ``get_worker_info()`` describes the worker inside it.
An exception in a worker is re-raised in the main process with the worker's traceback;
a worker that dies or a batch later than ``timeout`` raises a RuntimeError. Workers are
daemons, shut down when the epoch ends (or kept for the next one with
``persistent_workers``) and when the iterator or loader is garbage collected.
"""
from __future__ import annotations

import multiprocessing
import pickle
import queue
import random
import traceback
import weakref
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any, Dict, Optional

import numpy as np

import nn_core as nc


def _rebuild_tensor(data: bytes, dtype_name: str, shape, requires_grad: bool):
    t = nc._C._empty(list(shape), getattr(nc, dtype_name))
    if len(data):
        nc._C._tensor_bytes(t)[:] = np.frombuffer(data, dtype=np.uint8)
    return t.requires_grad_(True) if requires_grad else t


def _reduce_tensor(t):
    d = t.detach()
    d = d if d.is_contiguous() else d.contiguous()
    return _rebuild_tensor, (nc._C._tensor_bytes(d).tobytes(), d.dtype.name, tuple(d.shape), t.requires_grad)


ForkingPickler.register(nc.Tensor, _reduce_tensor)


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker (None in the main process)."""
    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: Optional[WorkerInfo] = None


def get_worker_info() -> Optional[WorkerInfo]:
    return _worker_info


class _WorkerError:
    """An exception raised in a worker, carried to the main process as text."""

    def __init__(self, worker_id: int, exc: BaseException):
        self.worker_id = worker_id
        try:  # an exception class the main process can't unpickle (a local class) becomes RuntimeError
            pickle.loads(pickle.dumps(type(exc)))
            self.exc_type = type(exc)
        except Exception:
            self.exc_type = RuntimeError
        self.message = (f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}.\n"
                        f"Original traceback:\n{traceback.format_exc()}")

    def reraise(self):
        try:
            err = self.exc_type(self.message)
        except Exception:  # an exception type that does not take one message
            err = RuntimeError(self.message)
        raise err


def fetch(dataset, collate_fn, indices):
    """One batch (``indices`` a sequence) or one sample (an int, ``batch_size=None``)."""
    from nn_core.data import TensorDataset, default_collate
    if isinstance(indices, (int, np.integer)):
        sample = dataset[int(indices)]
        return sample if collate_fn is None else collate_fn(sample)
    if collate_fn is None and isinstance(dataset, TensorDataset):
        key = nc.from_numpy(np.ascontiguousarray(indices, dtype=np.int64))
        return [t[key] for t in dataset.tensors]
    return (collate_fn or default_collate)([dataset[int(i)] for i in indices])


def _worker_loop(worker_id, num_workers, dataset, collate_fn, worker_init_fn, index_queue, result_queue):
    global _worker_info
    nc.set_num_threads(1)
    epoch_seen = None
    initialised = False
    while True:
        task = index_queue.get()
        if task is None:
            break
        epoch, batch_no, base_seed, indices = task
        if epoch != epoch_seen:
            epoch_seen = epoch
            seed = (base_seed + worker_id) % (2 ** 63)
            nc.manual_seed(seed)
            random.seed(seed)
            _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
            if not initialised:
                initialised = True
                if worker_init_fn is not None:
                    try:
                        worker_init_fn(worker_id)
                    except Exception as exc:  # reported with the first batch
                        result_queue.put((epoch, batch_no, bytes(ForkingPickler.dumps(_WorkerError(worker_id, exc)))))
                        continue
        try:  # pickled here, so that an unpicklable batch is reported instead of lost in the queue's thread
            payload = ForkingPickler.dumps(fetch(dataset, collate_fn, indices))
        except Exception as exc:
            payload = ForkingPickler.dumps(_WorkerError(worker_id, exc))
        result_queue.put((epoch, batch_no, bytes(payload)))


class WorkerPool:
    """The worker processes of one loader, their queues and the running epoch's bookkeeping."""

    def __init__(self, loader, num_workers: int):
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self.num_workers = num_workers
        self.timeout = loader.timeout
        self.result_queue = ctx.Queue()
        self.index_queues = []
        self.workers = []
        for wid in range(num_workers):
            q = ctx.Queue()
            w = ctx.Process(target=_worker_loop, args=(wid, num_workers, loader.dataset, loader.collate_fn,
                                                        loader.worker_init_fn, q, self.result_queue), daemon=True)
            w.start()
            self.index_queues.append(q)
            self.workers.append(w)
        self.epoch = 0
        self._finalizer = weakref.finalize(self, WorkerPool._shutdown, self.workers, self.index_queues,
                                           self.result_queue)

    def run_epoch(self, batches, base_seed: int, prefetch: int):
        """Yields the collated batches of ``batches`` (a list of index lists / ints) in order."""
        self.epoch += 1
        epoch = self.epoch
        pending: Dict[int, Any] = {}
        sent = 0

        def send_next():
            nonlocal sent
            if sent < len(batches):
                self.index_queues[sent % self.num_workers].put((epoch, sent, base_seed, batches[sent]))
                sent += 1

        for _ in range(min(prefetch, len(batches))):
            send_next()
        for want in range(len(batches)):
            while want not in pending:
                got_epoch, batch_no, batch = self._get()
                if got_epoch == epoch:  # results of an abandoned earlier epoch are dropped
                    pending[batch_no] = batch
            batch = pickle.loads(pending.pop(want))
            send_next()
            if isinstance(batch, _WorkerError):
                batch.reraise()
            yield batch

    def _get(self):
        waited = 0.0
        step = 1.0 if not self.timeout else min(1.0, float(self.timeout))
        while True:
            try:
                return self.result_queue.get(timeout=step)
            except queue.Empty:
                waited += step
                dead = [w for w in self.workers if not w.is_alive()]
                if dead:
                    pids = ", ".join(f"pid {w.pid} (exit code {w.exitcode})" for w in dead)
                    self.shutdown()
                    raise RuntimeError(f"DataLoader worker(s) exited unexpectedly: {pids}") from None
                if self.timeout and waited >= self.timeout:
                    self.shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds waiting for a batch "
                                       "from its workers") from None

    def shutdown(self) -> None:
        self._finalizer()

    @property
    def alive(self) -> bool:
        return self._finalizer.alive

    @staticmethod
    def _shutdown(workers, index_queues, result_queue) -> None:
        for q in index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for w in workers:
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()
                w.join(timeout=5)
        for q in list(index_queues) + [result_queue]:
            q.cancel_join_thread()
            q.close()


__all__ = ["WorkerInfo", "get_worker_info"]
