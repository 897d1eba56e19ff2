"""Random numbers: the counter-based generator is reproducible from its seed and gives
identical results on 1 and 2 threads; distributions pass loose statistical checks at a
fixed seed (bounds are many standard errors wide, so they fail only when broken)."""
import math

import numpy as np
import pytest

import nn_core as nc
import samples as S
from samples import SEED

N = 1 << 20


def draws():
    """One of each generator call, as NumPy arrays."""
    return {
        "rand": S.to_np(nc.rand(1000)),
        "randn": S.to_np(nc.randn(7, 129)),
        "randint": S.to_np(nc.randint(-5, 9, (1000,))),
        "uniform_": S.to_np(nc.empty(333, dtype=nc.float64).uniform_(-2, 3)),
        "normal_": S.to_np(nc.empty(129).normal_(1.5, 0.5)),
        "rand_f16": S.to_np(nc.rand(100, dtype=nc.float16)),
    }


def test_manual_seed_reproduces_every_generator():
    nc.manual_seed(SEED)
    first = draws()
    nc.manual_seed(SEED)
    second = draws()
    for k in first:
        assert np.array_equal(first[k], second[k]), k
    nc.manual_seed(SEED + 1)
    other = draws()
    for k in first:
        assert not np.array_equal(first[k], other[k]), k


def test_consecutive_calls_differ():
    nc.manual_seed(SEED)
    a, b = S.to_np(nc.rand(64)), S.to_np(nc.rand(64))
    assert not np.array_equal(a, b)
    assert len(np.unique(S.to_np(nc.rand(10_000)))) > 9_990  # no short cycles


@pytest.mark.parametrize("make", [
    lambda: nc.rand(N), lambda: nc.randn(N), lambda: nc.randn(1001, 1031, dtype=nc.float64),
    lambda: nc.randint(0, 1000, (N,)), lambda: nc.empty(N).uniform_(-1, 1), lambda: nc.empty(N).normal_(),
    lambda: nc.rand(N, dtype=nc.bfloat16),
], ids=["rand", "randn", "randn_f64", "randint", "uniform_", "normal_", "rand_bf16"])
def test_same_numbers_on_one_and_two_threads(make):
    old = nc.get_num_threads()
    try:
        out = []
        for threads in (1, 2):
            nc.set_num_threads(threads)
            assert nc.get_num_threads() == threads
            nc.manual_seed(SEED)
            out.append(S.to_np(make()))
        assert np.array_equal(out[0], out[1])
    finally:
        nc.set_num_threads(old)


@pytest.mark.parametrize("dt", ["float32", "float64", "float16", "bfloat16"])
def test_rand_is_in_unit_interval_and_uniform(dt):
    nc.manual_seed(SEED)
    x = S.to_np(nc.rand(N, dtype=getattr(nc, dt))).astype(np.float64)
    assert nc.rand(3, dtype=getattr(nc, dt)).dtype == getattr(nc, dt)
    assert x.min() >= 0.0 and x.max() < 1.0, (x.min(), x.max())
    assert abs(x.mean() - 0.5) < 0.005 and abs(x.var() - 1 / 12) < 0.005
    hist = np.histogram(x, bins=16, range=(0, 1))[0] / N
    assert np.all(np.abs(hist - 1 / 16) < 0.01), hist


@pytest.mark.parametrize("dt", ["float32", "float64", "bfloat16"])
def test_randn_moments_and_shape(dt):
    nc.manual_seed(SEED)
    x = S.to_np(nc.randn(N, dtype=getattr(nc, dt))).astype(np.float64)
    assert np.isfinite(x).all()
    # standard errors: mean 1e-3, std ~7e-4; bounds at ~10 of them
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
    assert abs(np.mean(np.abs(x) < 1) - 0.6827) < 0.01
    assert abs(np.mean(x ** 3)) < 0.05 and abs(np.mean(x ** 4) - 3) < 0.1  # skew, kurtosis
    s = np.sort(x[:100_000])
    cdf = 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in s]))
    ks = np.max(np.abs(cdf - np.arange(1, len(s) + 1) / len(s)))
    assert ks < (0.02 if dt == "bfloat16" else 0.01), ks  # bfloat16 quantizes the values


def test_randint_range_and_uniformity():
    nc.manual_seed(SEED)
    x = S.to_np(nc.randint(-3, 7, (N,)))
    assert nc.randint(0, 2, (3,)).dtype == nc.int64
    assert x.min() == -3 and x.max() == 6
    counts = np.bincount(x + 3, minlength=10) / N
    assert np.all(np.abs(counts - 0.1) < 0.005), counts
    assert nc.randint(5, (4, 2)).shape == (4, 2)  # randint(high, size)
    big = S.to_np(nc.randint(0, 2**40, (1000,)))
    assert big.max() > 2**39 and big.min() >= 0
    with pytest.raises(ValueError):
        nc.randint(5, 5, (3,))


def test_uniform_and_normal_in_place():
    nc.manual_seed(SEED)
    t = nc.empty(N, dtype=nc.float64)
    r = t.uniform_(-2.0, 6.0)
    assert r.data_ptr() == t.data_ptr()
    x = S.to_np(t)
    assert x.min() >= -2.0 and x.max() < 6.0 and abs(x.mean() - 2.0) < 0.02
    t.normal_(3.0, 0.25)
    y = S.to_np(t)
    assert abs(y.mean() - 3.0) < 0.002 and abs(y.std() - 0.25) < 0.002
    v = nc.zeros(10, 10)
    v[:, ::3].normal_()  # through a strided view: only the view changes
    z = S.to_np(v)
    assert np.all(z[:, 1::3] == 0) and np.all(z[:, 2::3] == 0) and np.count_nonzero(z[:, ::3]) == 40
