"""Observers: modules that watch the tensors flowing through a layer during calibration and
turn what they saw into quantization parameters (scale, zero point).

Conventions (as in PyTorch):

- ``dtype="uint8"``: affine, integers 0..255 (0..127 with ``reduce_range``); the range
  always includes 0 so that zero (padding, ReLU output) is exact. scale = (hi - lo) /
  (qmax - qmin), zero_point = qmin - round(lo / scale), clamped to [qmin, qmax].
- ``dtype="int8"``: symmetric, integers -127..127, zero point 0, scale = max(|lo|, |hi|) / 127
  (the -128 code is left unused so that negation is exact and the range is symmetric).
- A tensor that was all zeros (or never observed) gets scale 1.0 rather than 0.
- Per-channel observers reduce over every axis but ``ch_axis`` and return arrays.

What they differ in is how the range [lo, hi] is chosen:

- ``MinMaxObserver``: the running min and max: exact coverage, sensitive to outliers.
- ``MovingAverageMinMaxObserver``: an exponential moving average of each batch's min/max.
- ``PercentileObserver``: the given percentiles of |x| (or of x) over a bounded reservoir
  of samples: clips rare outliers.
- ``HistogramObserver``: a histogram of everything seen, then the clipping range that
  minimises the expected squared quantization error (clipping error of the values
  outside plus the rounding error, step^2 / 12 per value inside) is searched over.

Observers are ``nn.Module``s whose ``forward(x)`` records and returns ``x`` unchanged;
they read tensors through NumPy (calibration is offline and runs once).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from nn_core import nn

_RANGES = {"uint8": (0, 255), "int8": (-127, 127)}


def qrange(dtype: str, reduce_range: bool = False) -> Tuple[int, int]:
    """(qmin, qmax) of a quantized dtype; ``reduce_range`` drops one bit (for kernels whose
    16-bit intermediate sums would otherwise saturate)."""
    if dtype not in _RANGES:
        raise ValueError(f"observer: dtype must be 'uint8' or 'int8', got {dtype!r}")
    qmin, qmax = _RANGES[dtype]
    if reduce_range:
        qmin, qmax = (0, 127) if dtype == "uint8" else (-63, 63)
    return qmin, qmax


def qparams_from_range(lo, hi, dtype: str = "uint8", reduce_range: bool = False):
    """(scale, zero_point) for the range [lo, hi] (scalars or arrays of per-channel ranges),
    following the module's conventions. Returns float64 scale and int64 zero point arrays
    (0-d for scalars)."""
    qmin, qmax = qrange(dtype, reduce_range)
    lo = np.minimum(np.asarray(lo, dtype=np.float64), 0.0)
    hi = np.maximum(np.asarray(hi, dtype=np.float64), 0.0)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("observer: the observed range is not finite (NaN or inf in the calibration data)")
    if dtype == "int8":
        bound = np.maximum(-lo, hi)
        scale = bound / ((qmax - qmin) / 2.0)
        zero_point = np.zeros(scale.shape, dtype=np.int64)
    else:
        scale = (hi - lo) / float(qmax - qmin)
        safe = np.where(scale > 0, scale, 1.0)
        zero_point = np.clip(qmin - np.round(lo / safe), qmin, qmax).astype(np.int64)
    scale = np.where(scale > 0, scale, 1.0)
    return scale, zero_point


def _as_numpy(x) -> np.ndarray:
    return np.asarray(x.detach().float().numpy() if hasattr(x, "detach") else x, dtype=np.float32)


class ObserverBase(nn.Module):
    """Records statistics in ``forward`` and returns its input unchanged."""

    def __init__(self, dtype: str = "uint8", reduce_range: bool = False):
        super().__init__()
        qrange(dtype, reduce_range)  # validates
        self.dtype = dtype
        self.reduce_range = reduce_range
        self.num_batches = 0

    def forward(self, x):
        a = _as_numpy(x)
        if a.size:
            self._observe(a)
            self.num_batches += 1
        return x

    def _observe(self, a: np.ndarray) -> None:
        raise NotImplementedError

    def range(self) -> Tuple[float, float]:
        """The (lo, hi) range the observer chose."""
        raise NotImplementedError

    def calculate_qparams(self):
        """(scale, zero_point) from the chosen range."""
        lo, hi = self.range()
        return qparams_from_range(lo, hi, self.dtype, self.reduce_range)

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}, batches={self.num_batches}"


class MinMaxObserver(ObserverBase):
    """The running minimum and maximum of everything observed."""

    def __init__(self, dtype: str = "uint8", reduce_range: bool = False):
        super().__init__(dtype, reduce_range)
        self.min_val, self.max_val = np.inf, -np.inf

    def _observe(self, a):
        self.min_val = min(self.min_val, float(a.min()))
        self.max_val = max(self.max_val, float(a.max()))

    def range(self):
        if self.num_batches == 0:
            return 0.0, 0.0
        return self.min_val, self.max_val


class PerChannelMinMaxObserver(ObserverBase):
    """Running min/max per channel along ``ch_axis`` (weights: the output-channel axis 0)."""

    def __init__(self, ch_axis: int = 0, dtype: str = "int8", reduce_range: bool = False):
        super().__init__(dtype, reduce_range)
        self.ch_axis = ch_axis
        self.min_val: Optional[np.ndarray] = None
        self.max_val: Optional[np.ndarray] = None

    def _observe(self, a):
        axis = self.ch_axis % a.ndim
        flat = np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)
        lo, hi = flat.min(axis=1).astype(np.float64), flat.max(axis=1).astype(np.float64)
        if self.min_val is not None and self.min_val.shape != lo.shape:
            raise ValueError(f"PerChannelMinMaxObserver: {lo.shape[0]} channels now, {self.min_val.shape[0]} before")
        self.min_val = lo if self.min_val is None else np.minimum(self.min_val, lo)
        self.max_val = hi if self.max_val is None else np.maximum(self.max_val, hi)

    def range(self):
        if self.min_val is None:
            return np.zeros(1), np.zeros(1)
        return self.min_val, self.max_val


class MovingAverageMinMaxObserver(ObserverBase):
    """min/max as exponential moving averages over batches (the first batch sets them)."""

    def __init__(self, averaging_constant: float = 0.01, dtype: str = "uint8", reduce_range: bool = False):
        super().__init__(dtype, reduce_range)
        if not 0.0 < averaging_constant <= 1.0:
            raise ValueError(f"MovingAverageMinMaxObserver: averaging_constant must be in (0, 1], "
                             f"got {averaging_constant}")
        self.averaging_constant = averaging_constant
        self.min_val = self.max_val = None

    def _observe(self, a):
        lo, hi = float(a.min()), float(a.max())
        if self.min_val is None:
            self.min_val, self.max_val = lo, hi
        else:
            c = self.averaging_constant
            self.min_val += c * (lo - self.min_val)
            self.max_val += c * (hi - self.max_val)

    def range(self):
        if self.min_val is None:
            return 0.0, 0.0
        return self.min_val, self.max_val


class PercentileObserver(ObserverBase):
    """lo / hi at the given lower / upper percentiles of the observed values, estimated from
    a uniform reservoir sample of at most ``max_samples`` values (seeded: reproducible)."""

    def __init__(self, percentile: float = 99.99, dtype: str = "uint8", reduce_range: bool = False,
                 max_samples: int = 1 << 20, seed: int = 0):
        super().__init__(dtype, reduce_range)
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"PercentileObserver: percentile must be in (50, 100], got {percentile}")
        self.percentile = percentile
        self.max_samples = int(max_samples)
        self._rng = np.random.default_rng(seed)
        self._reservoir = np.empty(0, dtype=np.float32)
        self._seen = 0

    def _observe(self, a):
        flat = a.reshape(-1)
        # Reservoir sampling in bulk: every value seen so far is kept with equal probability.
        total = self._seen + flat.size
        if total <= self.max_samples:
            self._reservoir = np.concatenate([self._reservoir, flat])
        else:
            keep_new = self._rng.binomial(flat.size, self.max_samples / total)
            keep_old = self.max_samples - keep_new
            old = self._reservoir
            if old.size > keep_old:
                old = old[self._rng.choice(old.size, keep_old, replace=False)]
            new = flat[self._rng.choice(flat.size, keep_new, replace=False)] if keep_new else flat[:0]
            self._reservoir = np.concatenate([old, new])
        self._seen = total

    def range(self):
        if self._reservoir.size == 0:
            return 0.0, 0.0
        lo = float(np.percentile(self._reservoir, 100.0 - self.percentile))
        hi = float(np.percentile(self._reservoir, self.percentile))
        return lo, hi


class HistogramObserver(ObserverBase):
    """A ``bins``-bin histogram of everything seen (re-binned when the range grows), then
    the sub-range of the histogram minimising the expected squared quantization error."""

    def __init__(self, bins: int = 2048, dtype: str = "uint8", reduce_range: bool = False):
        super().__init__(dtype, reduce_range)
        if bins < 16:
            raise ValueError(f"HistogramObserver: bins must be >= 16, got {bins}")
        self.bins = bins
        self.histogram = np.zeros(bins, dtype=np.float64)
        self.min_val = self.max_val = None

    def _observe(self, a):
        lo, hi = float(a.min()), float(a.max())
        if self.min_val is None:
            self.min_val, self.max_val = lo, max(hi, lo + 1e-12)
        elif lo < self.min_val or hi > self.max_val:
            # Grow the range and move the old counts into the new bins by their centres.
            new_lo, new_hi = min(lo, self.min_val), max(hi, self.max_val)
            centres = self.min_val + (np.arange(self.bins) + 0.5) * (self.max_val - self.min_val) / self.bins
            self.histogram, _ = np.histogram(centres, bins=self.bins, range=(new_lo, new_hi),
                                             weights=self.histogram)
            self.min_val, self.max_val = new_lo, new_hi
        counts, _ = np.histogram(a, bins=self.bins, range=(self.min_val, self.max_val))
        self.histogram += counts

    def _error(self, start: int, stop: int, width: float, levels: int) -> float:
        """Expected squared error when [edge(start), edge(stop)) is quantized to `levels` steps."""
        centres = self.min_val + (np.arange(self.bins) + 0.5) * width
        lo_edge = self.min_val + start * width
        hi_edge = self.min_val + stop * width
        step = max(hi_edge - lo_edge, 1e-12) / levels
        h = self.histogram
        inside = h[start:stop].sum() * step * step / 12.0
        below = np.sum(h[:start] * (centres[:start] - lo_edge) ** 2)
        above = np.sum(h[stop:] * (centres[stop:] - hi_edge) ** 2)
        return float(inside + below + above)

    def range(self):
        if self.min_val is None:
            return 0.0, 0.0
        qmin, qmax = qrange(self.dtype, self.reduce_range)
        levels = qmax - qmin
        width = (self.max_val - self.min_val) / self.bins
        total = self.histogram.sum()
        cum = np.cumsum(self.histogram)
        # Greedy search as in the usual "non-linear param search": shrink from whichever
        # end holds less mass, keeping the best range seen.
        start, stop = 0, self.bins
        best = (self._error(start, stop, width, levels), start, stop)
        step = max(1, self.bins // 256)
        while stop - start > step * 2:
            mass_left = cum[start + step - 1] - (cum[start - 1] if start else 0)
            mass_right = cum[stop - 1] - cum[stop - step - 1]
            if mass_left <= mass_right:
                start += step
            else:
                stop -= step
            if (cum[stop - 1] - (cum[start - 1] if start else 0)) < 0.5 * total:
                break
            err = self._error(start, stop, width, levels)
            if err < best[0]:
                best = (err, start, stop)
        _, start, stop = best
        return self.min_val + start * width, self.min_val + stop * width
