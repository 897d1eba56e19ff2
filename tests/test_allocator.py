"""nn_core.memory_stats(device=...) and reset_peak_memory_stats(device=...): None, 'cpu' and
nn_core.device('cpu') all read the CPU allocator's counters (the same keys as always);
'cuda' / 'cuda:N' raise a RuntimeError saying this build has no CUDA backend; anything
else raises ValueError; errors change no counter. The inference runtime's planner
allocator serves a session's run only: afterwards (also after a failing run) new tensors
come from the CPU allocator again. The interface itself is tested in C++
(tests/cpp/test_allocator.cpp)."""
import gc

import numpy as np
import pytest

import nn_core as nc
import nn_core.nn as nn
from nn_core.runtime import InferenceSession

KEYS = {"bytes_in_use", "peak_bytes", "num_allocs", "num_frees", "cached_bytes"}
CPU_SPELLINGS = [None, "cpu", nc.device("cpu"), nc.device()]


def stats(device=None):
    gc.collect()
    return nc.memory_stats(device)


@pytest.mark.parametrize("device", CPU_SPELLINGS, ids=repr)
def test_cpu_spellings_read_the_cpu_counters(device):
    s = stats(device)
    assert set(s) == KEYS
    assert all(isinstance(v, int) and v >= 0 for v in s.values()), s
    assert s == stats()
    assert nc.memory_stats(device=device) == s  # keyword form


def test_counters_follow_allocations_for_every_spelling():
    before = {repr(d): stats(d) for d in CPU_SPELLINGS}
    t = nc.empty(1000, dtype=nc.float64)
    for d in CPU_SPELLINGS:
        s, b = stats(d), before[repr(d)]
        assert s["bytes_in_use"] == b["bytes_in_use"] + 8000, (d, b, s)
        assert s["num_allocs"] == b["num_allocs"] + 1, (d, b, s)
    del t
    for d in CPU_SPELLINGS:
        assert stats(d)["bytes_in_use"] == before[repr(d)]["bytes_in_use"]


def test_tensor_device_is_accepted():
    t = nc.zeros(3)
    assert stats(t.device) == stats("cpu")


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3", nc.device("cuda"), nc.device("cuda:1")], ids=repr)
def test_cuda_says_this_build_has_no_cuda_backend(device):
    before = stats()
    with pytest.raises(RuntimeError, match="no CUDA backend") as info:
        nc.memory_stats(device)
    assert "cuda:" in str(info.value) and "memory_stats" in str(info.value)
    with pytest.raises(RuntimeError, match="no CUDA backend"):
        nc.reset_peak_memory_stats(device)
    assert stats() == before


@pytest.mark.parametrize("device", ["gpu", "", "CPU", "cuda:", "cuda:x", "cuda:-1", "cuda:0:1", " cpu", 0, 1.5, [],
                                    ("cpu",), object(), b"cpu"], ids=repr)
def test_garbage_raises_value_error(device):
    before = stats()
    with pytest.raises(ValueError, match="memory_stats"):
        nc.memory_stats(device)
    with pytest.raises(ValueError, match="reset_peak_memory_stats"):
        nc.reset_peak_memory_stats(device)
    assert stats() == before


def test_reset_peak_by_device():
    big = nc.empty(1 << 20)
    del big
    assert stats()["peak_bytes"] >= stats()["bytes_in_use"] + (4 << 20)
    nc.reset_peak_memory_stats("cpu")
    s = stats()
    assert s["peak_bytes"] == s["bytes_in_use"]
    t = nc.empty(250)
    del t
    nc.reset_peak_memory_stats(device=nc.device("cpu"))
    s = stats()
    assert s["peak_bytes"] == s["bytes_in_use"]
    nc.reset_peak_memory_stats()  # the old signature still works
    assert nc.empty_cache() is None


def test_planner_allocator_is_uninstalled_after_each_run():
    nc.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()

    def ids(b, seed=0):
        return nc.from_numpy(np.random.default_rng(seed).integers(0, 10, size=(b, 5)).astype(np.int64))

    sess = InferenceSession(model, ids(2), dynamic_axes={0: {0: "batch"}})

    def assert_cpu_allocator_serves_new_tensors():
        before = stats()
        t = nc.empty(333)
        s = stats()
        assert s["num_allocs"] == before["num_allocs"] + 1 and s["bytes_in_use"] == before["bytes_in_use"] + 1332
        del t

    for _ in range(4):  # the recording run, then replays from the arena
        sess.run(ids(3))
        assert_cpu_allocator_serves_new_tensors()
    assert sess.memory_info()["arena_runs"] >= 3
    bad = ids(3).numpy().copy()
    bad[2, 4] = 10  # out of range for the embedding: fails inside the graph, within the arena's run
    with pytest.raises(IndexError):
        sess.run(nc.from_numpy(bad))
    assert_cpu_allocator_serves_new_tensors()
    with pytest.raises(TypeError):
        sess.run(nc.zeros(3, 5))  # rejected before the graph runs (float32, not int64)
    assert_cpu_allocator_serves_new_tensors()
    info = sess.memory_info()
    assert info["leaked_arenas"] == 0 and info["arena_fallbacks"] == 0, info
