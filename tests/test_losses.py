"""Losses: every functional loss against a float64 numpy reference (all reductions,
class weights, ignore_index, label smoothing, probability targets, pos_weight, extra
spatial dims), stability for huge logits, float64 gradcheck, the modules, error
messages, and torch.nn.functional where torch is installed."""
import numpy as np
import pytest

import nn_core as nc
from nn_core import functional as F
from nn_core import nn

gradcheck = nc.autograd.gradcheck
REDUCTIONS = ["mean", "sum", "none"]


def t64(a, grad=False):
    return nc.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def np_cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """PyTorch's definition, written out on (N, C, d...) arrays."""
    C = x.shape[1]
    logp = np_log_softmax(x, 1)
    w = np.ones(C) if weight is None else weight
    wshape = (1, C) + (1,) * (x.ndim - 2)
    if target.dtype.kind == "f":
        t = target * (1 - label_smoothing) + label_smoothing / C
        loss = -(logp * t * w.reshape(wshape)).sum(1)
        return loss.sum() / (x.size / C) if reduction == "mean" else np_reduce(loss, reduction)
    valid = target != ignore_index
    tc = np.where(valid, target, 0)
    picked = np.take_along_axis(logp, tc[:, None], 1)[:, 0]
    wt = w[tc] * valid
    nll = -picked * wt
    smooth = -(logp * w.reshape(wshape)).sum(1) * valid
    if reduction == "none":
        return (1 - label_smoothing) * nll + label_smoothing / C * smooth
    if reduction == "sum":
        return (1 - label_smoothing) * nll.sum() + label_smoothing / C * smooth.sum()
    return ((1 - label_smoothing) * nll.sum() + label_smoothing / C * smooth.sum()) / wt.sum()


CE_CASES = [
    dict(),
    dict(weight=True),
    dict(ignore_index=2),
    dict(ignore_index=-100, weight=True, label_smoothing=0.2),
    dict(label_smoothing=0.1),
    dict(label_smoothing=0.15, ignore_index=0),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", CE_CASES, ids=str)
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 2, 3)], ids=["NC", "NCHW"])
def test_cross_entropy_indices(shape, kw, reduction, rng):
    x = rng.standard_normal(shape) * 3
    C = shape[1]
    target = rng.integers(0, C, (shape[0],) + shape[2:])
    if "ignore_index" in kw and kw["ignore_index"] == -100:
        target.reshape(-1)[::3] = -100
    kw = dict(kw)
    weight = rng.uniform(0.2, 2.0, C) if kw.pop("weight", False) else None
    expected = np_cross_entropy(x, target, weight, reduction=reduction, **kw)
    got = F.cross_entropy(t64(x), nc.tensor(target), weight=None if weight is None else t64(weight),
                          reduction=reduction, **kw)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-14)
    xg = t64(x, grad=True)
    assert gradcheck(lambda a: F.cross_entropy(a, nc.tensor(target), None if weight is None else t64(weight),
                                               reduction=reduction, **kw), [xg])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 5)])
def test_cross_entropy_probabilities(shape, label_smoothing, reduction, rng):
    x = rng.standard_normal(shape)
    probs = np.exp(np_log_softmax(rng.standard_normal(shape), 1))
    weight = rng.uniform(0.5, 1.5, shape[1])
    expected = np_cross_entropy(x, probs, weight, reduction=reduction, label_smoothing=label_smoothing)
    got = F.cross_entropy(t64(x), t64(probs), t64(weight), reduction=reduction, label_smoothing=label_smoothing)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda a, p: F.cross_entropy(a, p, reduction=reduction, label_smoothing=label_smoothing),
                     [t64(x, True), t64(probs, True)])


def test_cross_entropy_unbatched(rng):
    x = rng.standard_normal(5)
    got = F.cross_entropy(t64(x), nc.tensor(3))
    assert got.item() == pytest.approx(-np_log_softmax(x, 0)[3], rel=1e-13)


def test_cross_entropy_huge_logits_are_stable():
    x = t64([[1e4, -1e4, 0.0], [-5e3, 5e3, 5e3]], grad=True)
    loss = F.cross_entropy(x, nc.tensor([1, 2]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [2e4, np.log(2)], rtol=1e-12)
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    x32 = nc.tensor([[80.0, -80.0], [1e30, 0.0]], requires_grad=True)
    l32 = F.cross_entropy(x32, nc.tensor([0, 1]), reduction="none")
    np.testing.assert_allclose(l32.detach().numpy(), [0.0, 1e30], rtol=1e-6)


def test_cross_entropy_errors():
    x = nc.randn(4, 3)
    with pytest.raises(IndexError, match=r"cross_entropy: target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, nc.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"expected a target of shape \(4,\)"):
        F.cross_entropy(x, nc.tensor([0, 1]))
    with pytest.raises(ValueError, match="weight must have shape \\(3,\\)"):
        F.cross_entropy(x, nc.tensor([0, 1, 2, 0]), weight=nc.ones(4))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, nc.tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="probability targets must have the input's shape"):
        F.cross_entropy(x, nc.rand(4, 2))
    with pytest.raises(TypeError, match="integer"):
        F.nll_loss(x, nc.tensor([True, False, True, True]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction, rng):
    logp = np_log_softmax(rng.standard_normal((6, 4)), 1)
    target = np.array([0, 3, 1, -100, 2, 3])
    w = rng.uniform(0.5, 2, 4)
    tc = np.where(target >= 0, target, 0)
    per = -logp[np.arange(6), tc] * w[tc] * (target >= 0)
    expected = per.sum() / (w[tc] * (target >= 0)).sum() if reduction == "mean" else np_reduce(per, reduction)
    got = F.nll_loss(t64(logp), nc.tensor(target), t64(w), reduction=reduction)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13)
    assert gradcheck(lambda a: F.nll_loss(a, nc.tensor(target), t64(w), reduction=reduction), [t64(logp, True)])


def np_smooth_l1(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta)


def np_huber(d, delta):
    a = np.abs(d)
    return np.where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta))


REGRESSION = [
    ("mse_loss", lambda x, y, **k: F.mse_loss(x, y, **k), lambda d: d * d, {}),
    ("l1_loss", lambda x, y, **k: F.l1_loss(x, y, **k), np.abs, {}),
    ("smooth_l1_loss", lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.7, **k), lambda d: np_smooth_l1(d, 0.7), {}),
    ("smooth_l1_beta0", lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.0, **k), np.abs, {}),
    ("huber_loss", lambda x, y, **k: F.huber_loss(x, y, delta=1.3, **k), lambda d: np_huber(d, 1.3), {}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,fn,ref,_", REGRESSION, ids=[r[0] for r in REGRESSION])
def test_regression_losses(name, fn, ref, _, reduction, rng):
    x, y = rng.standard_normal((5, 3)) * 2, rng.standard_normal((5, 3))
    got = fn(t64(x), t64(y), reduction=reduction)
    np.testing.assert_allclose(got.numpy(), np_reduce(ref(x - y), reduction), rtol=1e-13, atol=1e-15)
    assert gradcheck(lambda a, b: fn(a, b, reduction=reduction), [t64(x, True), t64(y, True)])


def np_bce_logits(x, t, weight=None, pos_weight=None):
    log_sig = -np.logaddexp(0, -x)
    log_one_minus = -np.logaddexp(0, x)
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * t * log_sig + (1 - t) * log_one_minus)
    return loss * (1.0 if weight is None else weight)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weights", [False, True])
def test_bce_with_logits(with_weights, reduction, rng):
    x = rng.standard_normal((4, 3)) * 3
    x[0, 0] = 0.0  # the gradient at exactly 0 is sigmoid(0) - t (no subgradient shortcut)
    t = rng.uniform(0, 1, (4, 3))
    w = rng.uniform(0.5, 2, (4, 3)) if with_weights else None
    pw = rng.uniform(0.5, 3, 3) if with_weights else None
    expected = np_reduce(np_bce_logits(x, t, w, pw), reduction)
    got = F.binary_cross_entropy_with_logits(t64(x), t64(t), None if w is None else t64(w), reduction,
                                             None if pw is None else t64(pw))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-15)
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, None if w is None else t64(w), reduction, None if pw is None else t64(pw)), [t64(x, True), t64(t, True)])


def test_bce_with_logits_huge_logits():
    x = t64([1e4, -1e4, 800.0, -800.0, 0.0], grad=True)
    t = t64([0.0, 1.0, 1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [1e4, 1e4, 0.0, 0.0, np.log(2)], rtol=1e-12, atol=1e-300)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, 0.0, 0.0, -0.5], atol=1e-15)
    x32 = nc.tensor([100.0, -100.0, 1e20])
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x32, nc.tensor([0.0, 1.0, 0.0]),
                                                                  reduction="none").numpy(), [100, 100, 1e20])


def test_binary_cross_entropy_probabilities(rng):
    p, t = rng.uniform(0.05, 0.95, 6), rng.uniform(0, 1, 6)
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
    assert F.binary_cross_entropy(t64(p), t64(t)).item() == pytest.approx(expected, rel=1e-13)
    assert F.binary_cross_entropy(t64([0.0, 1.0]), t64([1.0, 0.0])).item() == pytest.approx(100.0)


def test_loss_modules_match_functional(rng):
    x = t64(rng.standard_normal((5, 4)))
    y = nc.tensor(rng.integers(0, 4, 5))
    w = t64(rng.uniform(0.5, 2, 4))
    m = nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, reduction="sum")
    assert m(x, y).item() == F.cross_entropy(x, y, w, reduction="sum", label_smoothing=0.1).item()
    assert "weight" in dict(m.named_buffers())
    assert nn.NLLLoss()(F.log_softmax(x, 1), y).item() == pytest.approx(F.cross_entropy(x, y).item(), rel=1e-14)
    z = t64(rng.standard_normal((5, 4)))
    assert nn.MSELoss()(x, z).item() == F.mse_loss(x, z).item()
    assert nn.L1Loss(reduction="sum")(x, z).item() == F.l1_loss(x, z, reduction="sum").item()
    assert nn.SmoothL1Loss(beta=0.5)(x, z).item() == F.smooth_l1_loss(x, z, beta=0.5).item()
    assert nn.HuberLoss(delta=2.0)(x, z).item() == F.huber_loss(x, z, delta=2.0).item()
    pw = t64([1.0, 2.0, 3.0, 4.0])
    tt = t64(rng.uniform(0, 1, (5, 4)))
    assert nn.BCEWithLogitsLoss(pos_weight=pw)(x, tt).item() == \
        F.binary_cross_entropy_with_logits(x, tt, pos_weight=pw).item()
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(5, 4\) and target shape \(4,\)"):
        F.mse_loss(x, t64(np.zeros(4)))


def test_losses_match_torch(rng):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    x = rng.standard_normal((6, 5, 3))
    target = rng.integers(0, 5, (6, 3))
    target[0, 0] = 1
    w = rng.uniform(0.5, 2, 5)
    for kw in [dict(), dict(ignore_index=1, label_smoothing=0.2), dict(reduction="sum", label_smoothing=0.1)]:
        ours = F.cross_entropy(t64(x), nc.tensor(target), t64(w), **kw).numpy()
        theirs = tF.cross_entropy(torch.tensor(x), torch.tensor(target), torch.tensor(w), **kw).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    probs = np.exp(np_log_softmax(rng.standard_normal((6, 5, 3)), 1))
    np.testing.assert_allclose(F.cross_entropy(t64(x), t64(probs), label_smoothing=0.1).numpy(),
                               tF.cross_entropy(torch.tensor(x), torch.tensor(probs), label_smoothing=0.1).numpy(),
                               rtol=1e-12)
    xl, tl = rng.standard_normal((4, 3)) * 10, rng.uniform(0, 1, (4, 3))
    pw = rng.uniform(0.5, 3, 3)
    np.testing.assert_allclose(
        F.binary_cross_entropy_with_logits(t64(xl), t64(tl), pos_weight=t64(pw)).numpy(),
        tF.binary_cross_entropy_with_logits(torch.tensor(xl), torch.tensor(tl), pos_weight=torch.tensor(pw)).numpy(),
        rtol=1e-12)
    np.testing.assert_allclose(F.smooth_l1_loss(t64(xl), t64(tl), beta=0.5).numpy(),
                               tF.smooth_l1_loss(torch.tensor(xl), torch.tensor(tl), beta=0.5).numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.huber_loss(t64(xl), t64(tl), delta=0.5).numpy(),
                               tF.huber_loss(torch.tensor(xl), torch.tensor(tl), delta=0.5).numpy(), rtol=1e-12)
