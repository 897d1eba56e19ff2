"""Elementwise ops, a reduction and per-op overhead: nn_core beside numpy (and torch).

Cases (float32), named as in the summary table:
  add 1e6 / 1e7            a + b
  muladd 1e6 / 1e7         a * b + c   (two ops, one temporary)
  sum 1e6 / 1e7            a.sum()     (full reduction to a scalar)
  add 1 elem (overhead)    a + b on one-element tensors: the fixed cost of one op call
  matmul 4x4 (overhead)    a @ b on 4x4 matrices: the fixed cost of a matmul call
each with nn_core at 1 and 2 threads. numpy's ufuncs and reductions are single-threaded,
so numpy's column is a 1-thread time in every row; torch, when installed, runs with
torch.set_num_threads(threads). Results are checked against the peer's before the ratio
is trusted. conftest.py holds the harness and prints the summary table.
"""
from __future__ import annotations

import numpy as np
import pytest

import nn_core as nc

SIZES = {"1e6": 10**6, "1e7": 10**7}
THREADS = [1, 2]
PEERS = ["numpy", "torch"]


# ---- peers --------------------------------------------------------------------------------

class Peer:
    """A reference library: how to wrap a numpy array and how many threads it runs on."""

    def __init__(self, name: str):
        self.name = name
        if name == "torch":
            self.torch = pytest.importorskip("torch")

    def wrap(self, arr: np.ndarray):
        return self.torch.from_numpy(arr) if self.name == "torch" else arr

    def set_threads(self, n: int) -> str:
        if self.name == "torch":
            self.torch.set_num_threads(n)
            return str(n)
        return "1"  # numpy ufuncs and reductions never use more than one thread

    def to_numpy(self, value) -> np.ndarray:
        if self.name == "torch":
            return value.numpy()
        return np.asarray(value)


@pytest.fixture(params=PEERS)
def peer(request):
    p = Peer(request.param)
    if p.name == "torch":
        before = p.torch.get_num_threads()
        yield p
        p.torch.set_num_threads(before)
    else:
        yield p


# ---- inputs -------------------------------------------------------------------------------

_INPUTS: dict = {}


def inputs(size: int):
    """Three float32 numpy arrays in [0.5, 1.5) (fixed seed) and their nn_core copies.

    nn_core's copies are made with nc.tensor (its own 64-byte-aligned allocator), not
    from_numpy, so each side computes on memory its own library allocated.
    """
    if size not in _INPUTS:
        _INPUTS.clear()  # keep at most one size alive: 1e7 x 3 x 2 copies is already 240 MB
        rng = np.random.default_rng(20240611 + size)
        arrays = [rng.random(size, dtype=np.float32) + np.float32(0.5) for _ in range(3)]
        _INPUTS[size] = (arrays, [nc.tensor(x) for x in arrays])
    return _INPUTS[size]


def _ours_numpy(value) -> np.ndarray:
    return np.asarray(value.numpy())


# ---- large elementwise and reduction cases --------------------------------------------------

def _large_ops(operators_ok: bool):
    """(name, ours, reference) per case; the reference expression is used for the peer."""
    if operators_ok:
        add = lambda a, b, c: a + b  # noqa: E731
        muladd = lambda a, b, c: a * b + c  # noqa: E731
    else:  # operators crash on large tensors (see conftest.large_operator_probe)
        add = lambda a, b, c: nc.add(a, b)  # noqa: E731
        muladd = lambda a, b, c: nc.add(nc.mul(a, b), c)  # noqa: E731
    return {
        "add": (add, lambda a, b, c: a + b),
        "muladd": (muladd, lambda a, b, c: a * b + c),
        "sum": (lambda a, b, c: a.sum(), lambda a, b, c: a.sum()),
    }


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("size", list(SIZES), ids=str)
@pytest.mark.parametrize("op", ["add", "muladd", "sum"])
def test_large(op, size, threads, peer, compare, num_threads, large_operator_probe):
    n = SIZES[size]
    arrays, ours_in = inputs(n)
    peer_in = [peer.wrap(x) for x in arrays]
    ours_fn, ref_fn = _large_ops(large_operator_probe.ok)[op]
    num_threads(threads)
    peer_threads = peer.set_threads(threads)

    a, b, c = ours_in
    pa, pb, pc = peer_in
    case = f"{op} {size}" + ("" if large_operator_probe.ok or op == "sum" else " [fn]")
    result = compare(case, threads, lambda: ours_fn(a, b, c), peer.name, lambda: ref_fn(pa, pb, pc), peer_threads)

    got = _ours_numpy(result)
    if op == "sum":
        exact = float(np.sum(arrays[0], dtype=np.float64))
        # Pairwise or wide accumulation stays near 1e-7 relative; a plain float32 running
        # sum over 1e7 terms of ~1 loses digits once the total passes 2**24.
        assert abs(float(got) - exact) <= 1e-4 * exact, f"sum: nn_core {float(got)!r} vs exact {exact!r}"
    else:
        np.testing.assert_allclose(got, peer.to_numpy(ref_fn(pa, pb, pc)), rtol=1e-6, atol=0)


# ---- per-op overhead ------------------------------------------------------------------------

@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_overhead_add_one_element(threads, peer, compare, num_threads):
    x, y = np.array([1.25], dtype=np.float32), np.array([2.5], dtype=np.float32)
    a, b = nc.tensor(x), nc.tensor(y)
    pa, pb = peer.wrap(x), peer.wrap(y)
    num_threads(threads)
    peer_threads = peer.set_threads(threads)
    result = compare("add 1 elem (overhead)", threads, lambda: a + b, peer.name, lambda: pa + pb, peer_threads)
    np.testing.assert_array_equal(_ours_numpy(result), x + y)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
def test_overhead_matmul_4x4(threads, peer, compare, num_threads):
    rng = np.random.default_rng(4)
    x, y = (rng.standard_normal((4, 4)).astype(np.float32) for _ in range(2))
    a, b = nc.tensor(x), nc.tensor(y)
    pa, pb = peer.wrap(x), peer.wrap(y)
    num_threads(threads)
    peer_threads = peer.set_threads(threads)
    if peer.name == "numpy":
        peer_threads = "1"  # a 4x4 product never reaches OpenBLAS's threaded path
    result = compare("matmul 4x4 (overhead)", threads, lambda: a @ b, peer.name, lambda: pa @ pb, peer_threads)
    np.testing.assert_allclose(_ours_numpy(result), x.astype(np.float64) @ y, rtol=1e-5, atol=1e-6)
