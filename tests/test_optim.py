"""Optimizers and LR schedulers: each optimizer's fused native step against a numpy
transcription of its update rule (20 steps, float64, rtol 1e-12; float32 and strided
parameters looser), parameter groups, state_dict round trips, argument errors; each
scheduler against its closed form; gradient clipping."""
import math

import numpy as np
import pytest

import nn_core as nc
from nn_core import nn, optim
from nn_core.optim import lr_scheduler as L

SHAPES = [(7, 5), (129,), (1,), (3, 1, 4)]


# ---- numpy references (textbook forms, one function per rule) -------------------------
def ref_sgd(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    p, buf = p.copy(), None
    for g in grads:
        g = -g if maximize else g.copy()
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def ref_adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False,
             maximize=False):
    b1, b2 = betas
    p, m, v, vmax = p.copy(), np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g.copy()
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        v_hat = (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr / (1 - b1 ** t) * m / (np.sqrt(v_hat) + eps)
    return p


def ref_rmsprop(p, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                maximize=False):
    p, sq, buf, ga = p.copy(), np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = -g if maximize else g.copy()
        g = g + weight_decay * p
        sq = alpha * sq + (1 - alpha) * g * g
        if centered:
            ga = alpha * ga + (1 - alpha) * g
            avg = np.sqrt(sq - ga * ga) + eps
        else:
            avg = np.sqrt(sq) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


def ref_adagrad(p, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                maximize=False):
    p, total = p.copy(), np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g.copy()
        g = g + weight_decay * p
        total = total + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(total) + eps)
    return p


def ref_adadelta(p, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    p, sq, acc = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = -g if maximize else g.copy()
        g = g + weight_decay * p
        sq = rho * sq + (1 - rho) * g * g
        delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
        acc = rho * acc + (1 - rho) * delta * delta
        p = p - lr * delta
    return p


CASES = [
    (optim.SGD, ref_sgd, dict(lr=0.1)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.5, maximize=True)),
    (optim.Adam, ref_adam, dict(lr=0.01)),
    (optim.Adam, ref_adam, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    (optim.Adam, ref_adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    (optim.Adam, ref_adam, dict(lr=0.01, maximize=True)),
    (optim.AdamW, ref_adam, dict(lr=0.01)),
    (optim.AdamW, ref_adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01, alpha=0.9, weight_decay=0.02, momentum=0.9)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.005, centered=True, momentum=0.5, eps=1e-4)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.05, lr_decay=0.01, weight_decay=0.02, initial_accumulator_value=0.1)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.05, eps=1e-3, maximize=True)),
    (optim.Adadelta, ref_adadelta, dict()),
    (optim.Adadelta, ref_adadelta, dict(lr=0.5, rho=0.95, eps=1e-4, weight_decay=0.01)),
    (optim.Adadelta, ref_adadelta, dict(lr=0.3, maximize=True)),
]


def case_id(case):
    cls, _, kw = case
    return cls.__name__ + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def ref_kwargs(cls, kw):
    kw = dict(kw)
    if cls is optim.AdamW:
        kw.setdefault("weight_decay", 1e-2)
        kw["decoupled"] = True
    return kw


def run_steps(opt_cls, kw, p0s, grads, dtype):
    params = [nn.Parameter(nc.from_numpy(p.astype(dtype))) for p in p0s]
    opt = opt_cls(params, **kw)
    for step in range(len(grads[0])):
        for p, g in zip(params, grads):
            p.grad = nc.from_numpy(g[step].astype(dtype))
        opt.step()
    return params, opt


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_optimizer_matches_numpy_float64(case, rng):
    opt_cls, ref, kw = case
    p0s = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for _ in range(20)] for s in SHAPES]
    params, _ = run_steps(opt_cls, kw, p0s, grads, np.float64)
    for p, p0, gs in zip(params, p0s, grads):
        expected = ref(p0, gs, **ref_kwargs(opt_cls, kw))
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("case", CASES[1::3], ids=case_id)
def test_optimizer_float32(case, rng):
    opt_cls, ref, kw = case
    p0s = [rng.standard_normal(s).astype(np.float32).astype(np.float64) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32).astype(np.float64) for _ in range(20)] for s in SHAPES]
    params, _ = run_steps(opt_cls, kw, p0s, grads, np.float32)
    for p, p0, gs in zip(params, p0s, grads):
        assert p.dtype == nc.float32
        expected = ref(p0, gs, **ref_kwargs(opt_cls, kw))
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=2e-4, atol=2e-5)


def test_large_tensor_uses_threads_identically(rng):
    """A tensor big enough to be split across threads gives the same bits for 1 and 2 threads."""
    p0 = rng.standard_normal(300_001)
    gs = [rng.standard_normal(300_001) for _ in range(3)]
    results = []
    old = nc.get_num_threads()
    try:
        for threads in (1, 2):
            nc.set_num_threads(threads)
            params, _ = run_steps(optim.Adam, dict(lr=0.01, amsgrad=True), [p0], [gs], np.float32)
            results.append(params[0].detach().numpy().copy())
    finally:
        nc.set_num_threads(old)
    assert np.array_equal(results[0], results[1])


def test_strided_parameter_and_gradient(rng):
    """A parameter viewed with strides is updated through a copy; a strided grad is read as is."""
    base = nc.from_numpy(rng.standard_normal((6, 8)))
    p = base[:, ::2]  # (6, 4) view with stride 2
    assert not p.is_contiguous()
    p0 = p.detach().numpy().copy()
    g_np = rng.standard_normal((4, 6))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = nc.from_numpy(g_np).T
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), p0 - 0.1 * g_np.T, rtol=1e-14)
    np.testing.assert_allclose(base.detach().numpy()[:, 1::2], base.detach().numpy()[:, 1::2])  # untouched columns


def test_step_bumps_version_so_stale_graphs_fail():
    w = nn.Parameter(nc.tensor([1.0, 2.0]))
    y = (w * w).sum()
    w.grad = nc.tensor([1.0, 1.0])
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError):
        y.backward()


def test_params_without_grad_are_skipped():
    a, b = nn.Parameter(nc.ones(3)), nn.Parameter(nc.ones(3))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = nc.ones(3)
    opt.step()
    assert b.detach().numpy().tolist() == [1.0, 1.0, 1.0] and a.detach().numpy()[0] < 1.0
    assert b not in opt.state and opt.state[a]["step"] == 1


def test_param_groups(rng):
    a = nn.Parameter(nc.from_numpy(rng.standard_normal(4)))
    b = nn.Parameter(nc.from_numpy(rng.standard_normal(3)))
    a0, b0 = a.detach().numpy().copy(), b.detach().numpy().copy()
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.0
    assert opt.param_groups[1]["lr"] == 0.5
    ga, gb = rng.standard_normal(4), rng.standard_normal(3)
    a.grad, b.grad = nc.from_numpy(ga), nc.from_numpy(gb)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), a0 - 0.1 * ga, rtol=1e-14)
    np.testing.assert_allclose(b.detach().numpy(), b0 - 0.5 * gb, rtol=1e-14)
    c = nn.Parameter(nc.zeros(2))
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["momentum"] == 0.0
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


@pytest.mark.parametrize("opt_cls,kw", [(optim.SGD, dict(lr=0.05, momentum=0.9)),
                                         (optim.Adam, dict(lr=0.01, amsgrad=True)),
                                         (optim.AdamW, dict(lr=0.01)),
                                         (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.3))])
def test_state_dict_round_trip_resumes_exactly(opt_cls, kw, rng):
    """10 steps, save, 10 more == 10 steps, load into a fresh optimizer, 10 more."""
    p0 = rng.standard_normal((5, 3))
    grads = [rng.standard_normal((5, 3)) for _ in range(20)]

    def steps(opt, p, gs):
        for g in gs:
            p.grad = nc.from_numpy(g)
            opt.step()

    p = nn.Parameter(nc.from_numpy(p0.copy()))
    opt = opt_cls([p], **kw)
    steps(opt, p, grads)
    straight = p.detach().numpy().copy()

    q = nn.Parameter(nc.from_numpy(p0.copy()))
    opt1 = opt_cls([q], **kw)
    steps(opt1, q, grads[:10])
    sd = opt1.state_dict()
    assert set(sd) == {"state", "param_groups"} and sd["param_groups"][0]["params"] == [0]
    saved = {k: (v.numpy().copy() if isinstance(v, nc.Tensor) else v) for k, v in sd["state"][0].items()}
    q2 = nn.Parameter(nc.from_numpy(q.detach().numpy().copy()))
    opt2 = opt_cls([q2], lr=123.0)  # hyperparameters come from the state dict
    opt2.load_state_dict({"state": {0: saved}, "param_groups": sd["param_groups"]})  # numpy state accepted
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    steps(opt2, q2, grads[10:])
    assert np.array_equal(q2.detach().numpy(), straight)


def test_load_state_dict_errors():
    a, b = nn.Parameter(nc.ones(2)), nn.Parameter(nc.ones(3))
    opt = optim.Adam([a, b])
    with pytest.raises(ValueError, match="parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]})
    with pytest.raises(ValueError, match="group 0 has 1 parameters"):
        opt.load_state_dict({"state": {}, "param_groups": [dict(opt.param_groups[0], params=[0])]})
    sd = {"state": {1: {"step": 1, "exp_avg": np.zeros(2), "exp_avg_sq": np.zeros(3)}},
          "param_groups": [dict({k: v for k, v in opt.param_groups[0].items() if k != "params"}, params=[0, 1])]}
    with pytest.raises(ValueError, match="exp_avg.*shape \\(2,\\).*shape \\(3,\\)"):
        opt.load_state_dict(sd)


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=-1), lambda p: optim.SGD(p, momentum=-0.1),
    lambda p: optim.SGD(p, nesterov=True), lambda p: optim.Adam(p, betas=(1.0, 0.9)),
    lambda p: optim.Adam(p, eps=-1), lambda p: optim.AdamW(p, weight_decay=-1),
    lambda p: optim.RMSprop(p, alpha=-1), lambda p: optim.SGD(p[:0]),
    lambda p: optim.Adagrad(p, lr_decay=-1), lambda p: optim.Adagrad(p, initial_accumulator_value=-1),
    lambda p: optim.Adadelta(p, rho=1.5), lambda p: optim.Adadelta(p, eps=-1),
    lambda p: optim.LBFGS(p, line_search_fn="backtracking"), lambda p: optim.LBFGS(p, history_size=0),
])
def test_bad_hyperparameters(make):
    with pytest.raises(ValueError):
        make([nn.Parameter(nc.ones(2))])


def test_native_checks_name_optimizer_and_shapes():
    p = nn.Parameter(nc.ones(3))
    p.grad = nc.ones(3)
    with pytest.raises(ValueError, match=r"Adam: gradient shape \(4,\) does not match the parameter shape \(3,\)"):
        nc._C._adam_step([p], [nc.ones(4)], [nc.zeros(3)], [nc.zeros(3)], [None], [1], 0.1, 0.9, 0.99, 1e-8, 0.0,
                         False, False, False)
    with pytest.raises(ValueError, match="state tensor 'exp_avg' has shape"):
        nc._C._adam_step([p], [p.grad], [nc.zeros(2)], [nc.zeros(3)], [None], [1], 0.1, 0.9, 0.99, 1e-8, 0.0,
                         False, False, False)
    h = nc.ones(3, dtype=nc.float16)
    with pytest.raises(TypeError, match="SGD: parameters must be float32 or float64"):
        nc._C._sgd_step([h], [h], [None], [False], 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(TypeError, match="gradient dtype"):
        nc._C._sgd_step([p], [nc.ones(3, dtype=nc.float64)], [None], [False], 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(ValueError, match="Adagrad: state tensor 'sum' has shape"):
        nc._C._adagrad_step([p], [p.grad], [nc.zeros(2)], [1], 0.1, 0.0, 0.0, 1e-10, False)
    with pytest.raises(ValueError, match="Adagrad: the step count must be >= 1"):
        nc._C._adagrad_step([p], [p.grad], [nc.zeros(3)], [0], 0.1, 0.0, 0.0, 1e-10, False)
    with pytest.raises(ValueError, match="Adadelta: state tensor 'acc_delta' is missing"):
        nc._C._adadelta_step([p], [p.grad], [nc.zeros(3)], [None], 1.0, 0.9, 1e-6, 0.0, False)


def test_zero_grad_and_closure():
    p = nn.Parameter(nc.tensor([3.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    assert p.detach().item() == 3.0 - 0.25 * 6.0
    opt.zero_grad(set_to_none=False)
    assert p.grad.item() == 0.0
    opt.zero_grad()
    assert p.grad is None


# ---- schedulers ------------------------------------------------------------------------
def lrs_of(make, n, base=0.1, **opt_kw):
    opt = optim.SGD([nn.Parameter(nc.zeros(1))], lr=base, **opt_kw)
    sched = make(opt)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    assert sched.get_last_lr() == [out[-1]]
    return out


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_step_lr():
    close(lrs_of(lambda o: L.StepLR(o, step_size=3, gamma=0.5), 10), [0.1 * 0.5 ** (e // 3) for e in range(11)])


def test_multistep_lr():
    ms = [2, 5, 5, 8]
    close(lrs_of(lambda o: L.MultiStepLR(o, milestones=[8, 2, 5, 5], gamma=0.3), 10),
          [0.1 * 0.3 ** sum(m <= e for m in ms) for e in range(11)])


def test_exponential_lr():
    close(lrs_of(lambda o: L.ExponentialLR(o, gamma=0.9), 10), [0.1 * 0.9 ** e for e in range(11)])


def test_cosine_annealing_lr():
    T, eta = 7, 0.01
    close(lrs_of(lambda o: L.CosineAnnealingLR(o, T_max=T, eta_min=eta), 12),
          [eta + (0.1 - eta) * (1 + math.cos(math.pi * e / T)) / 2 for e in range(13)])


def test_linear_lr_warmup():
    close(lrs_of(lambda o: L.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4), 8),
          [0.1 * (0.25 + 0.75 * min(e, 4) / 4) for e in range(9)])


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_lr(strategy, three_phase):
    total, max_lr, div, final_div, pct = 20, 1.0, 25.0, 1e4, 0.3
    got = lrs_of(lambda o: L.OneCycleLR(o, max_lr=max_lr, total_steps=total, pct_start=pct, div_factor=div,
                                        final_div_factor=final_div, anneal_strategy=strategy,
                                        three_phase=three_phase), total - 1, momentum=0.9)
    init, low = max_lr / div, max_lr / div / final_div

    def anneal(a, b, t):
        return b + (a - b) / 2 * (math.cos(math.pi * t) + 1) if strategy == "cos" else a + (b - a) * t

    e1 = pct * total - 1
    if three_phase:
        phases = [(0.0, e1, init, max_lr), (e1, 2 * pct * total - 2, max_lr, init), (2 * pct * total - 2, total - 1,
                                                                                     init, low)]
    else:
        phases = [(0.0, e1, init, max_lr), (e1, total - 1.0, max_lr, low)]
    expected = []
    for s in range(total):
        for i, (a, b, lo, hi) in enumerate(phases):
            if s <= b or i == len(phases) - 1:
                expected.append(anneal(lo, hi, (s - a) / (b - a)))
                break
    close(got, expected)
    assert got[0] == pytest.approx(init) and max(got) == pytest.approx(max_lr, rel=0.05)


def test_one_cycle_cycles_momentum_and_betas():
    opt = optim.Adam([nn.Parameter(nc.zeros(1))], lr=0.1)
    sched = L.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.param_groups[0]["betas"][0] == pytest.approx(0.95)
    for _ in range(2):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["betas"][0] == pytest.approx(0.85)  # lr peak <-> momentum low
    with pytest.raises(ValueError, match="total_steps"):
        for _ in range(20):
            sched.step()


def test_sequential_lr_warmup_then_cosine():
    def make(o):
        warm = L.LinearLR(o, start_factor=0.1, total_iters=3)
        cos = L.CosineAnnealingLR(o, T_max=5)
        return L.SequentialLR(o, [warm, cos], milestones=[3])

    expected = [0.1 * (0.1 + 0.9 * e / 3) for e in range(3)]
    expected += [0.1 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(8)]
    close(lrs_of(make, 10), expected)


def test_scheduler_state_dict_resume():
    opt = optim.SGD([nn.Parameter(nc.zeros(1))], lr=0.1)
    s = L.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(5):
        s.step()
    sd = s.state_dict()
    opt2 = optim.SGD([nn.Parameter(nc.zeros(1))], lr=0.1)
    s2 = L.StepLR(opt2, step_size=100, gamma=0.9)
    s2.load_state_dict(sd)
    s.step()
    s2.step()
    assert s2.get_last_lr() == s.get_last_lr() == [0.1 * 0.5 ** 3]


# ---- gradient clipping -------------------------------------------------------------------
def test_clip_grad_norm(rng):
    gs = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    params = [nn.Parameter(nc.zeros(*g.shape, dtype=nc.float64)) for g in gs]
    for p, g in zip(params, gs):
        p.grad = nc.from_numpy(g.copy())
    total = np.sqrt(sum((g ** 2).sum() for g in gs))
    norm = nn.utils.clip_grad_norm_(params, max_norm=1.0)
    assert norm.item() == pytest.approx(total, rel=1e-12)
    coef = 1.0 / (total + 1e-6)
    for p, g in zip(params, gs):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-12)
    # inf norm, and no clipping when under the limit
    for p, g in zip(params, gs):
        p.grad = nc.from_numpy(g.copy())
    inf = nn.utils.clip_grad_norm_(params, max_norm=100.0, norm_type=float("inf"))
    assert inf.item() == pytest.approx(max(np.abs(g).max() for g in gs))
    np.testing.assert_array_equal(params[0].grad.numpy(), gs[0])
    params[0].grad = nc.tensor([float("nan")] * 12, dtype=nc.float64).reshape(3, 4)
    with pytest.raises(RuntimeError, match="non|nan"):
        nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)


def test_clip_grad_value(rng):
    g = rng.standard_normal((4, 4)) * 3
    p = nn.Parameter(nc.zeros(4, 4, dtype=nc.float64))
    p.grad = nc.from_numpy(g.copy())
    nn.utils.clip_grad_value_([p], 0.5)
    np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -0.5, 0.5))


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
                                      ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
                                      ("AdamW", dict(lr=0.01, weight_decay=0.1)),
                                      ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
                                      ("Adagrad", dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1)),
                                      ("Adadelta", dict(lr=0.5, rho=0.95, weight_decay=0.01))])
def test_matches_torch_and_resumes_from_its_state_dict(name, kw, rng):
    torch = pytest.importorskip("torch")
    p0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(20)]
    tp = torch.nn.Parameter(torch.tensor(p0.copy()))
    topt = getattr(torch.optim, name)([tp], **kw)
    for g in grads[:10]:
        tp.grad = torch.tensor(g)
        topt.step()
    p = nn.Parameter(nc.tensor(tp.detach().numpy().copy()))
    opt = getattr(optim, name)([p], **kw)
    opt.load_state_dict(topt.state_dict())  # torch tensors and a tensor 'step' accepted
    for g in grads[10:]:
        tp.grad = torch.tensor(g)
        topt.step()
        p.grad = nc.tensor(g)
        opt.step()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-15)
