"""nn_core.metrics against direct numpy computations (and scikit-learn where installed)."""
import numpy as np
import pytest

import nn_core as nc
from nn_core import metrics


def data(rng, n=200, c=5):
    target = rng.integers(0, c, n)
    scores = rng.standard_normal((n, c))
    scores[np.arange(n), target] += rng.uniform(0, 2.5, n)  # better than chance
    probs = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
    return probs, target


def test_accuracy_and_confusion_matrix(rng):
    probs, target = data(rng)
    pred = probs.argmax(1)
    assert metrics.accuracy(nc.from_numpy(probs), nc.from_numpy(target)) == np.mean(pred == target)
    assert metrics.accuracy(pred.tolist(), target) == np.mean(pred == target)
    cm = metrics.confusion_matrix(nc.from_numpy(pred), target, 5)
    expected = np.zeros((5, 5), dtype=np.int64)
    for t, p in zip(target, pred):
        expected[t, p] += 1
    assert np.array_equal(cm, expected) and cm.sum() == 200
    assert metrics.confusion_matrix(probs, target).shape == (5, 5)
    with pytest.raises(ValueError, match="confusion_matrix: targets must be in \\[0, 3\\)"):
        metrics.confusion_matrix([0, 1], [0, 4], 3)
    with pytest.raises(ValueError, match="predictions but"):
        metrics.accuracy([0, 1, 2], [0, 1])


def np_prf(pred, target, c):
    p, r, f, support = [], [], [], []
    for k in range(c):
        tp = np.sum((pred == k) & (target == k))
        fp = np.sum((pred == k) & (target != k))
        fn = np.sum((pred != k) & (target == k))
        p.append(tp / (tp + fp) if tp + fp else 0.0)
        r.append(tp / (tp + fn) if tp + fn else 0.0)
        f.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        support.append(np.sum(target == k))
    return np.array(p), np.array(r), np.array(f), np.array(support)


def test_precision_recall_f1(rng):
    probs, target = data(rng, c=6)
    pred = probs.argmax(1)
    pred[pred == 5] = 4  # class 5 never predicted: precision 0, no division warning
    p, r, f, support = np_prf(pred, target, 6)
    np.testing.assert_allclose(metrics.precision(pred, target, 6, average=None), p)
    np.testing.assert_allclose(metrics.recall(pred, target, 6, average=None), r)
    np.testing.assert_allclose(metrics.f1_score(pred, target, 6, average=None), f)
    assert metrics.precision(pred, target, 6) == pytest.approx(p.mean())
    assert metrics.recall(pred, target, 6, average="weighted") == pytest.approx((r * support).sum() / support.sum())
    assert metrics.f1_score(pred, target, 6, average="micro") == pytest.approx(np.mean(pred == target))
    assert metrics.precision_recall_f1(pred, target, 6) == (
        metrics.precision(pred, target, 6), metrics.recall(pred, target, 6), metrics.f1_score(pred, target, 6))
    with pytest.raises(ValueError, match="average"):
        metrics.f1_score(pred, target, 6, average="samples")


def test_precision_recall_f1_match_sklearn(rng):
    sk = pytest.importorskip("sklearn.metrics")
    probs, target = data(rng)
    pred = probs.argmax(1)
    for avg in ["macro", "micro", "weighted"]:
        assert metrics.precision(pred, target, average=avg) == pytest.approx(
            sk.precision_score(target, pred, average=avg, zero_division=0))
        assert metrics.recall(pred, target, average=avg) == pytest.approx(sk.recall_score(target, pred, average=avg))
        assert metrics.f1_score(pred, target, average=avg) == pytest.approx(sk.f1_score(target, pred, average=avg))
    assert np.array_equal(metrics.confusion_matrix(pred, target), sk.confusion_matrix(target, pred))


def test_expected_calibration_error(rng):
    probs, target = data(rng, n=500)
    n_bins = 10
    conf, pred = probs.max(1), probs.argmax(1)
    ece = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(np.mean(pred[in_bin] == target[in_bin]) - conf[in_bin].mean())
    assert metrics.expected_calibration_error(nc.from_numpy(probs), target, n_bins) == pytest.approx(ece, rel=1e-12)
    # perfectly calibrated one-hot predictions that are all right: 0; all wrong: 1
    onehot = np.eye(3)[[0, 1, 2, 1]]
    assert metrics.expected_calibration_error(onehot, [0, 1, 2, 1]) == 0.0
    assert metrics.expected_calibration_error(onehot, [1, 2, 0, 0]) == 1.0
    with pytest.raises(ValueError, match="probs must be \\(N, C\\)"):
        metrics.expected_calibration_error(np.ones(3), [0, 1, 2])
