"""``nn_core.metrics``: classification metrics — accuracy, confusion_matrix,
precision / recall / F1 (per class or averaged) and expected calibration error.

Inputs may be nn_core Tensors, numpy arrays or lists. ``pred`` is either class indices
(N,) or scores/probabilities (N, C), reduced by argmax. Results are Python floats, or
numpy arrays for per-class values and the confusion matrix; the counting is vectorised
numpy (bincount), not Python loops over samples.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from nn_core import Tensor


def _np(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().numpy()
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _labels(pred, op: str) -> np.ndarray:
    p = _np(pred)
    if p.ndim == 2:
        return p.argmax(axis=1)
    if p.ndim != 1:
        raise ValueError(f"{op}: predictions must be class indices (N,) or scores (N, C), got shape {p.shape}")
    if p.dtype.kind == "f" and not np.all(p == np.round(p)):
        raise ValueError(f"{op}: 1-D float predictions must hold class indices")
    return p.astype(np.int64)


def _pair(pred, target, op: str):
    p, t = _labels(pred, op), _np(target).astype(np.int64).reshape(-1)
    if p.shape != t.shape:
        raise ValueError(f"{op}: {p.shape[0]} predictions but {t.shape[0]} targets")
    return p, t


def accuracy(pred, target) -> float:
    """Fraction of predictions equal to the target."""
    p, t = _pair(pred, target, "accuracy")
    if p.size == 0:
        raise ValueError("accuracy: empty input")
    return float(np.mean(p == t))


def confusion_matrix(pred, target, num_classes: Optional[int] = None) -> np.ndarray:
    """``cm[i, j]`` = number of samples of true class i predicted as class j (int64)."""
    p, t = _pair(pred, target, "confusion_matrix")
    if num_classes is None:
        num_classes = int(max(p.max(initial=-1), t.max(initial=-1))) + 1
        scores = _np(pred)
        if scores.ndim == 2:
            num_classes = max(num_classes, scores.shape[1])
    for name, v in (("predictions", p), ("targets", t)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(f"confusion_matrix: {name} must be in [0, {num_classes}), got range "
                             f"[{v.min()}, {v.max()}]")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _average(per_class: np.ndarray, support: np.ndarray, average: Optional[str], micro: float, op: str):
    if average is None or average == "none":
        return per_class
    if average == "macro":
        return float(per_class.mean())
    if average == "weighted":
        return float((per_class * support).sum() / support.sum()) if support.sum() else 0.0
    if average == "micro":
        return float(micro)
    raise ValueError(f"{op}: average must be 'macro', 'micro', 'weighted' or None, got '{average}'")


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros(a.shape, dtype=np.float64), where=b != 0)


def _counts(pred, target, num_classes, op):
    cm = confusion_matrix(pred, target, num_classes)
    tp = np.diag(cm).astype(np.float64)
    return cm, tp, cm.sum(axis=0).astype(np.float64), cm.sum(axis=1).astype(np.float64)


def precision(pred, target, num_classes: Optional[int] = None, average: Optional[str] = "macro"):
    """TP / (TP + FP) per class (0 where a class is never predicted), then averaged."""
    cm, tp, predicted, support = _counts(pred, target, num_classes, "precision")
    return _average(_safe_div(tp, predicted), support, average, tp.sum() / max(cm.sum(), 1), "precision")


def recall(pred, target, num_classes: Optional[int] = None, average: Optional[str] = "macro"):
    """TP / (TP + FN) per class (0 where a class never occurs), then averaged."""
    cm, tp, predicted, support = _counts(pred, target, num_classes, "recall")
    return _average(_safe_div(tp, support), support, average, tp.sum() / max(cm.sum(), 1), "recall")


def f1_score(pred, target, num_classes: Optional[int] = None, average: Optional[str] = "macro"):
    """2 TP / (2 TP + FP + FN) per class, then averaged (micro F1 equals accuracy)."""
    cm, tp, predicted, support = _counts(pred, target, num_classes, "f1_score")
    return _average(_safe_div(2 * tp, predicted + support), support, average, tp.sum() / max(cm.sum(), 1),
                    "f1_score")


def precision_recall_f1(pred, target, num_classes: Optional[int] = None, average: Optional[str] = "macro"):
    return (precision(pred, target, num_classes, average), recall(pred, target, num_classes, average),
            f1_score(pred, target, num_classes, average))


def expected_calibration_error(probs, target, n_bins: int = 15) -> float:
    """ECE (Guo et al. 2017): split samples by confidence (max probability) into ``n_bins``
    equal-width bins (lo, hi]; ECE = sum over bins of (n_bin / N) * |accuracy - mean confidence|."""
    p = _np(probs).astype(np.float64)
    t = _np(target).astype(np.int64).reshape(-1)
    if p.ndim != 2 or p.shape[0] != t.shape[0]:
        raise ValueError(f"expected_calibration_error: probs must be (N, C) with N = {t.shape[0]} targets, got shape "
                         f"{p.shape}")
    if n_bins < 1:
        raise ValueError(f"expected_calibration_error: n_bins must be >= 1, got {n_bins}")
    if p.shape[0] == 0:
        return 0.0
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == t).astype(np.float64)
    # Bin b holds confidences in (b/n, (b+1)/n]; confidence 0 goes to bin 0.
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=conf, minlength=n_bins)
    return float(np.abs(acc_sum - conf_sum).sum() / p.shape[0])


__all__ = ["accuracy", "confusion_matrix", "precision", "recall", "f1_score", "precision_recall_f1",
           "expected_calibration_error"]
