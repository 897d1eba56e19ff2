"""Observers and error metrics of nn_core.quantization (observers.py, quantize.py):
qparams conventions, each range rule against a NumPy computation, and SQNR / cosine."""
import math

import numpy as np
import pytest

import nn_core as nc
from nn_core.quantization import observers as obs
from nn_core.quantization.report import error_metrics


def _fake_quant(x, scale, zp, qmin, qmax):
    q = np.clip(np.round(x / scale) + zp, qmin, qmax)
    return (q - zp) * scale


def test_qparams_conventions():
    s, z = obs.qparams_from_range(-1.0, 3.0, "uint8")
    assert s == pytest.approx(4.0 / 255) and z == round(1.0 / (4.0 / 255))
    # the range always includes zero, and zero is exact
    s, z = obs.qparams_from_range(2.0, 5.0, "uint8")
    assert z == 0 and s == pytest.approx(5.0 / 255)
    assert _fake_quant(np.array([0.0]), s, z, 0, 255)[0] == 0.0
    s, z = obs.qparams_from_range(-7.0, 1.0, "uint8")
    assert z == round(7.0 / (8.0 / 255))
    s, z = obs.qparams_from_range(-7.0, -1.0, "uint8")  # all negative: zero is the top code
    assert z == 255
    s, z = obs.qparams_from_range(-2.0, 1.0, "int8")
    assert z == 0 and s == pytest.approx(2.0 / 127)
    s, z = obs.qparams_from_range(0.0, 0.0, "uint8")  # never seen anything: a usable scale
    assert s == 1.0 and z == 0
    s, z = obs.qparams_from_range(np.array([-1.0, 0.0]), np.array([1.0, 2.0]), "int8")
    np.testing.assert_allclose(s, [1 / 127, 2 / 127]) and np.testing.assert_array_equal(z, [0, 0])
    assert obs.qrange("uint8", reduce_range=True) == (0, 127)
    with pytest.raises(ValueError, match="dtype"):
        obs.qparams_from_range(0, 1, "int4")
    with pytest.raises(ValueError, match="not finite"):
        obs.qparams_from_range(-np.inf, 1.0)


def _batches(seed=0, n=5, outlier=None):
    rng = np.random.default_rng(seed)
    out = [rng.normal(0.5, 1.0, (16, 33)).astype(np.float32) for _ in range(n)]
    if outlier is not None:
        out[2][3, 4] = outlier
    return out


def test_minmax_and_moving_average():
    data = _batches()
    m = obs.MinMaxObserver()
    for b in data:
        assert m(nc.from_numpy(b)) is not None
    allv = np.concatenate([b.ravel() for b in data])
    assert m.range() == (pytest.approx(allv.min()), pytest.approx(allv.max()))
    ma = obs.MovingAverageMinMaxObserver(averaging_constant=0.5)
    lo, hi = data[0].min(), data[0].max()
    for b in data:
        ma(nc.from_numpy(b))
    for b in data[1:]:
        lo += 0.5 * (b.min() - lo)
        hi += 0.5 * (b.max() - hi)
    assert ma.range() == (pytest.approx(lo, rel=1e-6), pytest.approx(hi, rel=1e-6))
    with pytest.raises(ValueError):
        obs.MovingAverageMinMaxObserver(averaging_constant=0.0)


def test_per_channel_minmax():
    w = np.random.default_rng(1).normal(0, 1, (6, 4, 3, 3)).astype(np.float32)
    w[2] *= 10
    p = obs.PerChannelMinMaxObserver(ch_axis=0, dtype="int8")
    p(nc.from_numpy(w))
    s, z = p.calculate_qparams()
    np.testing.assert_allclose(s, np.abs(w).reshape(6, -1).max(axis=1) / 127, rtol=1e-6)
    assert s.shape == (6,) and np.all(z == 0)
    with pytest.raises(ValueError, match="channels"):
        p(nc.from_numpy(w[:3]))


def test_percentile_clips_outliers_and_is_seeded():
    data = _batches(outlier=80.0)
    p = obs.PercentileObserver(percentile=99.9, max_samples=1000)
    p2 = obs.PercentileObserver(percentile=99.9, max_samples=1000)
    for b in data:
        p(nc.from_numpy(b))
        p2(nc.from_numpy(b))
    lo, hi = p.range()
    assert hi < 10 and lo > -10 and p.range() == p2.range()
    allv = np.concatenate([b.ravel() for b in data])
    assert hi == pytest.approx(np.percentile(allv, 99.9), abs=0.5)
    assert p._reservoir.size == 1000


@pytest.mark.parametrize("dist", ["normal", "laplace", "student_t", "outliers"])
@pytest.mark.parametrize("reduce_range", [False, True])
def test_histogram_observer_minimises_error(dist, reduce_range):
    # The MSE search never does worse than min-max (it starts from the full range) and
    # comes within a few percent of the best range found by brute force over quantiles.
    rng = np.random.default_rng(3)
    draw = {"normal": lambda: rng.normal(1, 2, (64, 64)), "laplace": lambda: rng.laplace(0, 1, (64, 64)),
            "student_t": lambda: rng.standard_t(3, (64, 64)),
            "outliers": lambda: np.where(rng.random((64, 64)) < 0.002, 40.0, rng.normal(0, 1, (64, 64)))}[dist]
    data = [draw().astype(np.float32) for _ in range(4)]
    allv = np.concatenate([b.ravel() for b in data]).astype(np.float64)
    qmin, qmax = obs.qrange("uint8", reduce_range)
    h = obs.HistogramObserver(bins=2048, reduce_range=reduce_range)
    m = obs.MinMaxObserver(reduce_range=reduce_range)
    for b in data:
        h(nc.from_numpy(b))
        m(nc.from_numpy(b))

    def mse(lo, hi):
        s, z = obs.qparams_from_range(lo, hi, "uint8", reduce_range)
        return np.mean((_fake_quant(allv, s, z, qmin, qmax) - allv) ** 2)

    e_hist, e_minmax = mse(*h.range()), mse(*m.range())
    qs = np.linspace(0, 2, 41)
    best = min(mse(np.percentile(allv, a), np.percentile(allv, 100 - b)) for a in qs for b in qs)
    assert e_hist <= e_minmax * 1.02
    assert e_hist <= best * 1.15
    assert h.histogram.sum() == allv.size  # re-binning keeps every count


def test_error_metrics():
    ref = np.array([1.0, -2.0, 3.0])
    assert error_metrics(ref, ref) == (math.inf, pytest.approx(1.0))
    noisy = ref + np.array([0.1, 0.0, -0.1])
    sqnr, cos = error_metrics(ref, noisy)
    assert sqnr == pytest.approx(10 * math.log10(14 / 0.02))
    assert cos == pytest.approx(np.dot(ref, noisy) / np.linalg.norm(ref) / np.linalg.norm(noisy))
