"""nn_core.data: TensorDataset, DataLoader batching, drop_last, seeded and reproducible
shuffling, custom collate, default_collate of nested samples, random_split."""
import numpy as np
import pytest

import nn_core as nc
from nn_core.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split


def make(n=10):
    x = nc.from_numpy(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = nc.from_numpy(np.arange(n, dtype=np.int64))
    return TensorDataset(x, y)


def test_tensor_dataset():
    ds = make()
    assert len(ds) == 10
    x, y = ds[4]
    assert x.numpy().tolist() == [12.0, 13.0, 14.0] and y.item() == 4
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(nc.zeros(3, 2), nc.zeros(4))


@pytest.mark.parametrize("drop_last", [False, True])
def test_batching_in_order(drop_last):
    loader = DataLoader(make(), batch_size=4, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(batches) == (2 if drop_last else 3)
    assert [b[1].numpy().tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]][:len(batches)]
    assert batches[0][0].shape == (4, 3) and batches[0][0].dtype == nc.float32


def test_batches_are_copies_not_views_of_the_dataset():
    ds = make()
    xb, _ = next(iter(DataLoader(ds, batch_size=2)))
    xb.fill_(-1.0)
    assert ds.tensors[0].numpy()[0, 0] == 0.0


def order(loader):
    return np.concatenate([b[1].numpy() for b in loader]).tolist()


def test_shuffle_is_seeded_and_reproducible():
    a = DataLoader(make(50), batch_size=8, shuffle=True, generator=123)
    b = DataLoader(make(50), batch_size=8, shuffle=True, generator=123)
    ea, eb = order(a), order(b)
    assert ea == eb and sorted(ea) == list(range(50)) and ea != list(range(50))
    assert order(a) != ea  # a new permutation each epoch...
    # ...and the sequence of epochs is reproducible
    c = DataLoader(make(50), batch_size=8, shuffle=True, generator=123)
    d = DataLoader(make(50), batch_size=8, shuffle=True, generator=123)
    assert [order(c) for _ in range(3)] == [order(d) for _ in range(3)]
    assert order(DataLoader(make(50), batch_size=8, shuffle=True, generator=124)) != ea
    # numpy Generator accepted
    e = DataLoader(make(50), batch_size=8, shuffle=True, generator=np.random.default_rng(5))
    assert sorted(order(e)) == list(range(50))


def test_shuffle_without_generator_follows_manual_seed():
    nc.manual_seed(9)
    first = order(DataLoader(make(40), batch_size=6, shuffle=True))
    nc.manual_seed(9)
    assert order(DataLoader(make(40), batch_size=6, shuffle=True)) == first


def test_shuffled_drop_last_sizes():
    loader = DataLoader(make(10), batch_size=3, shuffle=True, drop_last=True, generator=0)
    sizes = [b[0].shape[0] for b in loader]
    assert sizes == [3, 3, 3] and len(loader) == 3


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": np.full(2, i, dtype=np.float32), "y": i * i, "name": f"s{i}", "w": float(i) / 2}


def test_default_collate_nested_and_custom_collate():
    batch = next(iter(DataLoader(Squares(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["x"].dtype == nc.float32
    assert batch["y"].numpy().tolist() == [0, 1, 4] and batch["y"].dtype == nc.int64
    assert batch["name"] == ["s0", "s1", "s2"]
    assert batch["w"].dtype == nc.float64
    out = list(DataLoader(Squares(), batch_size=4, collate_fn=lambda samples: sum(s["y"] for s in samples)))
    assert out == [0 + 1 + 4 + 9, 16 + 25 + 36]
    pairs = default_collate([(nc.ones(2), 1), (nc.zeros(2), 2)])
    assert pairs[0].shape == (2, 2) and pairs[1].numpy().tolist() == [1, 2]
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])


def test_generic_dataset_path_matches_tensor_fast_path():
    ds = make(23)
    sub = Subset(ds, list(range(23)))  # same samples, per-sample path + default_collate
    fast = [(x.numpy(), y.numpy()) for x, y in DataLoader(ds, batch_size=5, shuffle=True, generator=4)]
    slow = [(x.numpy(), y.numpy()) for x, y in DataLoader(sub, batch_size=5, shuffle=True, generator=4)]
    assert len(fast) == len(slow)
    for (a, b), (c, d) in zip(fast, slow):
        assert np.array_equal(a, c) and np.array_equal(b, d)


def test_random_split_and_errors():
    parts = random_split(make(10), [7, 3], generator=1)
    idx = sorted(parts[0].indices + parts[1].indices)
    assert idx == list(range(10)) and len(parts[0]) == 7
    assert [len(p) for p in random_split(make(10), [0.5, 0.5], generator=1)] == [5, 5]
    with pytest.raises(ValueError, match="does not equal"):
        random_split(make(10), [3, 3])
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(make(), batch_size=0)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(make(), shuffle=True, generator="seed")
