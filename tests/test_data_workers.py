"""DataLoader(num_workers=N): the batches equal the single-process loader's (same seeded
order, same contents), several worker processes really do the loading, worker seeding
and get_worker_info, persistent workers, errors and dead workers reported, resume from a
state_dict, argument checks."""
import os
import random

import numpy as np
import pytest

import nn_core as nc
from nn_core.data import DataLoader, Dataset, TensorDataset, get_worker_info


class Squares(Dataset):
    def __init__(self, n=37):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"x": nc.full((3,), float(i)), "y": i * i}


class WhoLoads(Dataset):
    """Each sample records the process that loaded it and nn_core's random draw there."""

    def __len__(self):
        return 24

    def __getitem__(self, i):
        info = get_worker_info()
        return (i, os.getpid(), -1 if info is None else info.id, float(nc.rand(1).item()), random.random())


class Fails(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 7:
            raise KeyError(f"sample {i} is broken")
        return nc.ones(2) * i


class Dies(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 5:
            os._exit(3)
        return nc.ones(1)


def flat(batches):
    out = []
    for b in batches:
        if isinstance(b, dict):
            out.append((b["x"].numpy().tolist(), b["y"].numpy().tolist()))
        else:
            out.append([t.numpy().tolist() for t in b])
    return out


@pytest.mark.parametrize("num_workers", [1, 2, 3])
@pytest.mark.parametrize("shuffle,drop_last", [(False, False), (True, False), (True, True)])
def test_same_batches_as_single_process(num_workers, shuffle, drop_last):
    single = DataLoader(Squares(), batch_size=5, shuffle=shuffle, drop_last=drop_last, generator=11)
    multi = DataLoader(Squares(), batch_size=5, shuffle=shuffle, drop_last=drop_last, generator=11,
                       num_workers=num_workers)
    for _ in range(2):  # two epochs: the second permutation as well
        assert flat(multi) == flat(single)


def test_tensor_dataset_and_no_batching():
    x = nc.arange(40.0).reshape(20, 2)
    y = nc.arange(20)
    ds = TensorDataset(x, y)
    a = [[t.numpy().tolist() for t in b] for b in DataLoader(ds, batch_size=6, shuffle=True, generator=3)]
    b = [[t.numpy().tolist() for t in b] for b in DataLoader(ds, batch_size=6, shuffle=True, generator=3,
                                                              num_workers=2)]
    assert a == b
    samples = list(DataLoader(Squares(6), batch_size=None, num_workers=2))
    assert [s["y"] for s in samples] == [i * i for i in range(6)]


def test_workers_load_in_separate_processes_with_their_own_seeds():
    nc.manual_seed(5)
    rows = [r for b in DataLoader(WhoLoads(), batch_size=2, num_workers=3, collate_fn=list) for r in b]
    assert [r[0] for r in rows] == list(range(24))
    pids = {r[1] for r in rows}
    assert len(pids) == 3 and os.getpid() not in pids
    assert {r[2] for r in rows} == {0, 1, 2}
    by_worker = {w: [r[3] for r in rows if r[2] == w] for w in range(3)}
    assert len({tuple(v[:2]) for v in by_worker.values()}) == 3  # different streams per worker
    nc.manual_seed(5)
    again = [r for b in DataLoader(WhoLoads(), batch_size=2, num_workers=3, collate_fn=list) for r in b]
    assert [r[3:] for r in again] == [r[3:] for r in rows]  # reproducible under manual_seed
    assert get_worker_info() is None


def test_worker_init_fn_and_persistent_workers():
    seen = []

    def init(worker_id):
        random.seed(1000 + worker_id)

    loader = DataLoader(WhoLoads(), batch_size=4, num_workers=2, persistent_workers=True, worker_init_fn=init,
                        collate_fn=list)
    for _ in range(2):
        seen.append({r[1] for b in loader for r in b})
    assert seen[0] == seen[1] and len(seen[0]) == 2  # the same two processes both epochs
    it = iter(loader)
    next(it)  # an abandoned epoch: the next one must not see its batches
    assert [r[0] for b in loader for r in b] == list(range(24))
    loader._pool.shutdown()


def test_worker_exception_is_reraised_with_its_traceback():
    with pytest.raises(KeyError, match="(?s)DataLoader worker process.*sample 7 is broken"):
        list(DataLoader(Fails(), batch_size=2, num_workers=2))


def test_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match="exited unexpectedly.*exit code 3"):
        list(DataLoader(Dies(), batch_size=1, num_workers=2))


def test_resume_from_state_dict_with_workers():
    ref = flat(DataLoader(Squares(), batch_size=4, shuffle=True, generator=8))
    loader = DataLoader(Squares(), batch_size=4, shuffle=True, generator=8, num_workers=2)
    it = iter(loader)
    head = flat([next(it) for _ in range(3)])
    state = loader.state_dict()
    del it
    restored = DataLoader(Squares(), batch_size=4, shuffle=True, generator=99, num_workers=2)
    restored.load_state_dict(state)
    assert head + flat(restored) == ref


@pytest.mark.parametrize("kw,match", [
    (dict(num_workers=-1), "non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor"),
    (dict(persistent_workers=True), "num_workers > 0"),
    (dict(num_workers=1, prefetch_factor=0), "prefetch_factor"),
    (dict(timeout=-1), "timeout"),
])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Squares(), **kw)


def test_pin_memory_is_accepted():
    loader = DataLoader(Squares(4), batch_size=2, pin_memory=True)
    assert loader.pin_memory and len(list(loader)) == 2


def test_spawn_context():
    x = nc.from_numpy(np.arange(12.0).reshape(6, 2))
    loader = DataLoader(TensorDataset(x), batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert [b[0].numpy().tolist() for b in loader] == [x.numpy()[:4].tolist(), x.numpy()[4:].tolist()]


def test_worker_exception_of_a_local_class_is_reported_as_runtime_error():
    class LocalError(Exception):  # not picklable by reference: the worker must still report it
        pass

    class Raises(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            raise LocalError(f"sample {i} failed")

    with pytest.raises(RuntimeError, match="(?s)Caught LocalError in DataLoader worker process.*sample 0 failed"):
        list(DataLoader(Raises(), batch_size=2, num_workers=1))
