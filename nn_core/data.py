"""``nn_core.data``: Dataset, TensorDataset, Subset, random_split and DataLoader
(batching, shuffling from a seeded generator, drop_last, custom collate, worker
processes: ``num_workers``, see nn_core/_data_workers.py).

Shuffling: each epoch's permutation comes from a numpy Generator seeded from
``generator`` (an int seed or a numpy Generator) or, when none is given, from
nn_core's global generator (so ``nn_core.manual_seed`` makes the order reproducible).
A TensorDataset with the default collate is batched by indexing its tensors with the
batch's indices (one gather per tensor), not sample by sample.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Iterator, List, Optional, Sequence, Union

import numpy as np

import nn_core as nc
from nn_core import Tensor


class Dataset:
    """An indexable collection of samples: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} has no __len__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the i-th rows of each tensor (all tensors share their first dim)."""

    def __init__(self, *tensors: Tensor):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        n = tensors[0].shape[0] if tensors[0].dim() > 0 else None
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, not a Tensor")
            if t.dim() == 0 or t.shape[0] != n:
                raise ValueError(f"TensorDataset: size mismatch between tensors: shapes "
                                 f"{[tuple(x.shape) for x in tensors]} (the first dims must agree)")
        self.tensors = tuple(tensors)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, idx):
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    def __init__(self, datasets: Sequence[Dataset]):
        self.datasets = list(datasets)
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1] if self.cumulative_sizes else 0

    def __getitem__(self, idx: int):
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f"ConcatDataset: index {idx} out of range for length {len(self)}")
        d = int(np.searchsorted(self.cumulative_sizes, idx, side="right"))
        start = self.cumulative_sizes[d - 1] if d else 0
        return self.datasets[d][idx - start]


def _numpy_generator(generator) -> np.random.Generator:
    if isinstance(generator, np.random.Generator):
        return generator
    if generator is None:
        seed = int(nc.randint(0, 2 ** 62, (1,)).item())
        return np.random.default_rng(seed)
    if isinstance(generator, numbers.Integral):
        return np.random.default_rng(int(generator))
    raise TypeError(f"expected an int seed, a numpy Generator or None as generator, got {type(generator).__name__}")


def random_split(dataset: Dataset, lengths: Sequence[Union[int, float]], generator=None) -> List[Subset]:
    """Splits into non-overlapping Subsets of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    if all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1.0) < 1e-9:
        counts = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} does not equal the dataset length {n}")
    perm = _numpy_generator(generator).permutation(n).tolist()
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length]))
        start += length
    return out


def default_collate(batch: List[Any]):
    """Stacks a list of samples: Tensors -> one Tensor (new leading dim), numbers and numpy
    arrays -> Tensors, and tuples/lists/dicts collated field by field."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return nc.stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        return nc.from_numpy(np.ascontiguousarray(np.stack(batch)))
    if isinstance(elem, (bool, np.bool_)):
        return nc.tensor(list(batch), dtype=nc.bool)
    if isinstance(elem, numbers.Integral):
        return nc.tensor([int(b) for b in batch], dtype=nc.int64)
    if isinstance(elem, numbers.Real):
        return nc.tensor([float(b) for b in batch], dtype=nc.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, dict):
        return {k: default_collate([b[k] for b in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("default_collate: each sample in the batch must have the same number of fields")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: don't know how to batch samples of type {type(elem).__name__}")


class DataLoader:
    """Iterates over a dataset in batches.

    ``shuffle`` draws a new permutation each epoch from the loader's numpy Generator, made
    once from ``generator`` (int seed or numpy Generator) or, if None, seeded from nn_core's
    global generator when the loader is created; the same seed gives the same batches.
    ``drop_last`` drops a final incomplete batch; ``collate_fn`` turns a list of samples
    into a batch (default: ``default_collate``).

    ``num_workers > 0`` loads batches in that many worker processes (``prefetch_factor``
    batches each in flight, default 2) and yields them in the same order as
    ``num_workers=0``; ``persistent_workers`` keeps the processes between epochs;
    ``worker_init_fn(worker_id)`` runs in each worker; ``timeout`` (seconds, 0 = none)
    bounds the wait for one batch; ``multiprocessing_context`` is a start method name or
    context (default ``fork`` where available). ``pin_memory`` is accepted for PyTorch
    compatibility and has no effect: this build has no accelerator to pin for."""

    def __init__(self, dataset: Dataset, batch_size: Optional[int] = 1, shuffle: bool = False,
                 sampler=None, batch_sampler=None, num_workers: int = 0,
                 collate_fn: Optional[Callable[[List[Any]], Any]] = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: Optional[int] = None, persistent_workers: bool = False):
        if batch_size is not None and (not isinstance(batch_size, numbers.Integral) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size!r}")
        if shuffle and sampler is not None:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            raise NotImplementedError("DataLoader: batch_sampler is not supported; use batch_size with a sampler")
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be a non-negative integer, got {num_workers!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                             "let num_workers > 0 to enable multiprocessing")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, numbers.Integral) or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor should be a positive integer, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        self.num_workers, self.pin_memory, self.timeout = int(num_workers), bool(pin_memory), timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor = (2 if prefetch_factor is None else int(prefetch_factor)) if num_workers else None
        self.persistent_workers = bool(persistent_workers)
        self._pool = None  # the persistent workers
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.collate_fn = collate_fn
        self.sampler = sampler
        self._rng = _numpy_generator(generator) if shuffle else None
        self._order: Optional[np.ndarray] = None  # the running epoch's sample order
        self._batches_done = 0                   # batches of it already yielded
        self._resume = False                     # next __iter__ continues the saved epoch

    def state_dict(self) -> dict:
        """The loader's position: generator state, the running epoch's order and how many of
        its batches were yielded, so a restored loader continues with the next batch."""
        return {
            "rng": None if self._rng is None else self._rng.bit_generator.state,
            "order": None if self._order is None else [int(i) for i in self._order],
            "batches_done": int(self._batches_done),
        }

    def load_state_dict(self, state: dict) -> None:
        if self._rng is not None and state.get("rng") is not None:
            self._rng.bit_generator.state = state["rng"]
        order = state.get("order")
        self._order = None if order is None else np.asarray(order, dtype=np.int64)
        self._batches_done = int(state.get("batches_done", 0))
        self._resume = self._order is not None

    def _indices(self) -> np.ndarray:
        if self.sampler is not None:
            return np.asarray(list(iter(self.sampler)), dtype=np.int64)
        n = len(self.dataset)
        return self._rng.permutation(n) if self.shuffle else np.arange(n)

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        if self._resume:
            idx, first = self._order, self._batches_done
            self._resume = False
        else:
            idx, first = self._indices(), 0
            self._order, self._batches_done = idx, 0
        if self.batch_size is None and self.num_workers == 0:
            for i in idx:
                yield self.dataset[int(i)] if self.collate_fn is None else self.collate_fn(self.dataset[int(i)])
            return
        if self.num_workers > 0:
            yield from self._iter_workers(idx, first)
            return
        bs = self.batch_size
        stop = (len(idx) // bs) * bs if self.drop_last else len(idx)
        fast = self.collate_fn is None and isinstance(self.dataset, TensorDataset)
        for start in range(first * bs, stop, bs):
            self._batches_done = start // bs + 1
            batch_idx = idx[start:start + bs]
            if fast:
                if self.shuffle or self.sampler is not None:
                    key = nc.from_numpy(np.ascontiguousarray(batch_idx, dtype=np.int64))
                    yield [t[key] for t in self.dataset.tensors]
                else:
                    end = start + len(batch_idx)
                    yield [t[start:end].clone() for t in self.dataset.tensors]  # a copy, as collate makes
                continue
            samples = [self.dataset[int(i)] for i in batch_idx]
            yield (self.collate_fn or default_collate)(samples)
        self._order, self._batches_done = None, 0

    def _iter_workers(self, idx: np.ndarray, first: int):
        from nn_core._data_workers import WorkerPool
        if self.batch_size is None:
            batches = [int(i) for i in idx[first:]]
        else:
            bs = self.batch_size
            stop = (len(idx) // bs) * bs if self.drop_last else len(idx)
            batches = [idx[s:s + bs].tolist() for s in range(first * bs, stop, bs)]
        base_seed = int(nc.randint(0, 2 ** 62, (1,)).item())
        pool = self._pool if self._pool is not None and self._pool.alive else None
        if pool is None:
            pool = WorkerPool(self, self.num_workers)
            if self.persistent_workers:
                self._pool = pool
        try:
            for k, batch in enumerate(pool.run_epoch(batches, base_seed, self.prefetch_factor * self.num_workers)):
                self._batches_done = first + k + 1
                yield batch
        finally:
            if not self.persistent_workers:
                pool.shutdown()
        self._order, self._batches_done = None, 0


from nn_core._data_workers import WorkerInfo, get_worker_info  # noqa: E402

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "default_collate", "DataLoader",
           "WorkerInfo", "get_worker_info"]


class DistributedSampler:
    """The indices of one rank's shard of ``dataset`` (PyTorch's
    ``torch.utils.data.distributed.DistributedSampler``, same arguments): every rank draws the
    same permutation (seeded by ``seed + epoch``: call ``set_epoch(epoch)`` at each epoch for a
    new order), pads it by repeating its start so that it divides evenly (or, with
    ``drop_last=True``, drops the tail), and takes every ``num_replicas``-th index from ``rank``.
    ``num_replicas`` / ``rank`` default to the process group's. The permutation comes from numpy's
    generator, so its order differs from PyTorch's for the same seed.
    """

    def __init__(self, dataset: Dataset, num_replicas: Optional[int] = None, rank: Optional[int] = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            from nn_core import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: pass num_replicas and rank, or call "
                                   "nn_core.distributed.init_process_group() first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, numbers.Integral) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, numbers.Integral) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = bool(shuffle), int(seed), bool(drop_last), 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _all_indices(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if self.drop_last:
            return indices[:self.total_size]
        padding = self.total_size - n
        if padding > 0 and n > 0:
            indices = np.concatenate([indices, np.resize(indices, padding)])
        return indices

    def __iter__(self) -> Iterator[int]:
        shard = self._all_indices()[self.rank:self.total_size:self.num_replicas]
        return iter(int(i) for i in shard)

    def __len__(self) -> int:
        return self.num_samples


__all__.append("DistributedSampler")
