"""The allocator's counters (nn_core.memory_stats): memory returns to its start when
tensors die, long training-like loops do not leak, views and from_numpy allocate
nothing, the peak can be reset, and failed allocations raise instead of crashing."""
import gc

import numpy as np
import pytest

import nn_core as nc


def stats():
    gc.collect()
    return nc.memory_stats()


def in_use():
    return stats()["bytes_in_use"]


def test_stats_have_the_documented_keys():
    s = stats()
    for key in ("bytes_in_use", "peak_bytes", "num_allocs", "num_frees"):
        assert isinstance(s[key], int) and s[key] >= 0, key
    assert s["peak_bytes"] >= s["bytes_in_use"] and s["num_allocs"] >= s["num_frees"]


def test_bytes_in_use_returns_to_start():
    start = stats()
    a = nc.zeros(1000, dtype=nc.float64)
    b = nc.ones(33, 7, dtype=nc.float16)
    assert in_use() >= start["bytes_in_use"] + 8000 + 33 * 7 * 2
    c = (a[::3] * 2).sum() + b.float().mean()
    d = nc.cat([a, a]).reshape(2, 1000).T.contiguous()
    e = nc.randn(129, 127) @ nc.randn(127, 5)
    del a, b, c, d, e
    end = stats()
    assert end["bytes_in_use"] == start["bytes_in_use"]
    assert end["num_allocs"] - end["num_frees"] == start["num_allocs"] - start["num_frees"]


def test_autograd_graph_memory_is_released():
    start = in_use()
    x = nc.randn(64, 32, requires_grad=True)
    w = nc.randn(32, 16, requires_grad=True)
    y = nc.functional.softmax((x @ w).relu(), 1).log().sum()
    y.backward()
    assert x.grad is not None and w.grad is not None
    del y
    x.grad = None
    w.grad = None
    del x, w
    assert in_use() == start


def test_views_and_from_numpy_allocate_nothing():
    x = nc.zeros(64, 64)
    before = stats()
    views = [x[::2], x.T, x.reshape(4096), x[3], x[:, 1:5], x.unsqueeze(0), x.expand(2, 64, 64), x.view(-1, 32)]
    a = np.ones(10_000)
    t = nc.from_numpy(a)
    after = stats()
    assert after["bytes_in_use"] == before["bytes_in_use"] and after["num_allocs"] == before["num_allocs"]
    del views, t


def test_training_loop_does_not_leak():
    """10,000 forward + backward steps of a small graph: bytes_in_use stays flat."""
    rng = np.random.default_rng(0)
    w = nc.tensor(rng.standard_normal((8, 4)) * 0.1, dtype=nc.float32, requires_grad=True)
    b = nc.zeros(4, requires_grad=True)
    x = nc.tensor(rng.standard_normal((16, 8)), dtype=nc.float32)
    target = nc.tensor(rng.integers(0, 4, 16))

    def step():
        logits = (x @ w + b).relu() * 2 - 0.5
        loss = -nc.functional.log_softmax(logits, 1)[nc.arange(16), target].mean()
        loss.backward()
        with nc.no_grad():
            w.sub_(w.grad * 0.01)
            b.sub_(b.grad * 0.01)
        w.grad = None
        b.grad = None
        return loss

    for _ in range(100):  # warm-up: caches and lazily created state settle
        step()
    warm = stats()
    for _ in range(10_000):
        loss = step()
    del loss
    end = stats()
    small_buffer = 16 * 4 * 4  # the largest tensor in the graph, (16, 4) float32
    assert abs(end["bytes_in_use"] - warm["bytes_in_use"]) <= small_buffer, (warm, end)
    live_warm = warm["num_allocs"] - warm["num_frees"]
    live_end = end["num_allocs"] - end["num_frees"]
    assert abs(live_end - live_warm) <= 1, (warm, end)


def test_reset_peak_memory_stats():
    big = nc.empty(1 << 20)  # 4 MiB
    del big
    s = stats()
    assert s["peak_bytes"] >= s["bytes_in_use"] + (4 << 20)
    nc.reset_peak_memory_stats()
    s = stats()
    assert s["peak_bytes"] == s["bytes_in_use"]
    t = nc.empty(1000, dtype=nc.float64)
    assert stats()["peak_bytes"] >= s["bytes_in_use"] + 8000
    del t


@pytest.mark.isolated  # if an allocation were attempted for real, only the child would die
def test_huge_allocations_raise_memory_error():
    start = in_use()
    for make in (lambda: nc.empty(2**62 // 4), lambda: nc.empty(2**40, 2**20), lambda: nc.zeros(2**42),
                 lambda: nc.ones(2**61, dtype=nc.float64), lambda: nc.empty(2**31, 2**31, 2**31),
                 lambda: nc.ones(1 << 20).expand(1 << 22, 1 << 20).contiguous(),
                 lambda: nc.ones(1).expand(2**41).clone()):
        with pytest.raises((MemoryError, ValueError)):
            make()
    with pytest.raises(MemoryError):
        nc.empty(2**40)  # 4 TiB: a valid shape that cannot be backed
    assert in_use() == start
    t = nc.ones(10)  # the allocator still works afterwards
    assert t.sum().item() == 10.0


def test_negative_sizes_raise_value_error():
    for make in (lambda: nc.empty(-1), lambda: nc.zeros(3, -2), lambda: nc.ones(-5, dtype=nc.int64),
                 lambda: nc.full((2, -1), 1.0), lambda: nc.rand(-3), lambda: nc.ones(3).view(-2, 3)):
        with pytest.raises(ValueError):
            make()


def test_empty_cache_keeps_counters_consistent():
    t = nc.empty(1 << 22)
    del t
    before = stats()["bytes_in_use"]
    if hasattr(nc, "empty_cache"):
        nc.empty_cache()
        assert stats().get("cached_bytes", 0) == 0
    assert stats()["bytes_in_use"] == before
